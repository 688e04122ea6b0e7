"""A broad search term's list (``vm-``, ``10.``, ``a``): walked, and counted from a sample.

A term held by more than ``FEW`` indexed texts (``search.broad_term``) is not
gathered from the search index: every match read, deduplicated, sorted by id and
counted, twice a list, cost 1.4-2.1 s at 200,000 resources on PostgreSQL and 7-11 s
at a million. Its list walks the resources in id order instead, each row checked on
its text (``Searched(term, walk=True)``: on PostgreSQL its indexed text, looked up by
id, or its own while it is queued; on SQLite its own), and a page ends as soon as it
is full.

Its count is an estimate: the list without the term is counted exactly
(``counts.counted``), and the term's share of it is measured on ids spread evenly from
the first id to the last, as many as make about ``AIM`` of them fall in the list. A
list no bigger than that many ids, or one too far from spread evenly (fewer than
``SAMPLED_ENOUGH`` fell in it), or one ``resource_counts`` cannot count (a tag
filter), is counted exactly, row by row.

The walk is slow where the term is rare in the list: a filter that leaves few of the
term's matches (``?search=esxi&state=running``) walks every row of the list to find
them. The sample says so before any walk: when the rows a page would walk (those
holding ``WALK_PAGE`` matches, at most the list) outnumber ``GATHER_COST`` times the
term's matches everywhere (the index's rows a gathering reads, measured on the same
sample), the list is gathered from the index after all (exact, at the cost of each
match).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from ..db.among import among
from ..db.models import Resource
from .queries import ResourceFilter, count_rows, resource_query
from .search import Searched

SAMPLE = 2000
"""The fewest ids a sample holds, spread evenly over the ids."""
AIM = 400
"""Of the list's rows, how many a sample is made to hold (more ids for a smaller list)."""
SAMPLED_ENOUGH = 100
"""Fewer of the sample in the list than this: the list is counted row by row."""
WALK_PAGE = 100
"""The matches a walk is costed for: a page of the default size."""
GATHER_COST = 2.5
"""What gathering a match from the index costs, in rows walked (PostgreSQL at a
million: 5.3 µs against 2.2 since the walk reads the indexed texts; 7.7 against 3
before, on the rows' own)."""


class Sample(NamedTuple):
    """What evenly spread ids saw of a list and of a term."""

    listed: int  # ids in the list
    matched: int  # of those, rows holding the term
    anywhere: int  # rows holding the term, in the list or not
    weight: float  # the ids each sampled id stands for


def broad_count(
    session: Session, filters: ResourceFilter, base: int | None
) -> tuple[int, bool] | None:
    """The count of a broad term's list, walked (``resource_query(filters, walk=True)``),
    and whether it is an estimate; None when gathering the list from the index costs
    less than walking it. ``base``: the list's count without the term
    (``counts.counted``; None when it cannot say)."""
    assert filters.search
    unsearched = replace(filters, search=None)
    seen = _sample(session, unsearched, filters.search, base) if base else None
    if base is None or seen is None:
        walk = resource_query(filters, walk=True).with_only_columns(Resource.id)
        return count_rows(session, walk), False
    share = seen.matched / seen.listed
    walked = base if share == 0 else min(base, WALK_PAGE / share)
    if walked > GATHER_COST * seen.anywhere * seen.weight:
        return None
    return round(base * share), True


def _sample(session: Session, unsearched: ResourceFilter, term: str, base: int) -> Sample | None:
    """What ids spread evenly from the first id to the last see of the ``base`` rows
    ``unsearched`` selects and of ``term``: enough ids (at least ``SAMPLE``) that about
    ``AIM`` fall in the list if it is spread as evenly. None when that is as many ids
    as the list has rows (counting them costs no more), or when fewer than
    ``SAMPLED_ENOUGH`` fell in it (a list far from spread)."""
    # Two subqueries: SQLite reads min and max off the index only one at a time.
    ends = (select(func.min(Resource.id)), select(func.max(Resource.id)))
    first, last = session.execute(select(*(end.scalar_subquery() for end in ends))).one()
    if first is None:
        return None
    span = last - first + 1
    size = max(SAMPLE, math.ceil(AIM * span / base))
    if size >= base:
        return None
    step = max(1.0, span / size)
    ids = sorted({first + int(i * step) for i in range(size) if i * step < span})
    in_list = resource_query(unsearched).whereclause
    if in_list is None:
        in_list = true()
    # Each sampled row checked once (OFFSET 0 keeps the subquery whole: inlined, its
    # columns were worked out again in each count), on its own text: the sample reads
    # its rows anyway, one page each, where their indexed texts are one page each more
    # (16.7 ms against 20.8 at a million resources).
    seen = (
        select(in_list.label("listed"), Searched(term, walk=True, own=True).label("held"))
        .where(among(Resource.id, values=ids))
        .offset(0)
        .subquery()
    )
    listed, matched, anywhere = session.execute(
        select(
            func.count().filter(seen.c.listed),
            func.count().filter(seen.c.listed & seen.c.held),
            func.count().filter(seen.c.held),
        )
    ).one()
    if listed < SAMPLED_ENOUGH:
        return None
    return Sample(listed, matched, anywhere, span / len(ids))
