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

A list that holds most of the ids walks the index's texts rather than its rows
(``ByTexts``, ``search.texts_walk``): at a million resources ``vm-``'s first page
walked 23,814 rows before its first match, 27-53 ms at ~1.1 µs a row on
PostgreSQL (each row's text looked up by its id) and ~128 ms at ~5.3 µs on SQLite
(each row's own text joined and lowered); PostgreSQL reads the texts beside the
rows in one ordered pass (~0.4 µs an id), SQLite reads only the term's matches from
its FTS5 index in id order (~1 µs a match). The same sample says which costs less:
the rows' walk reads the list's rows, the texts' walk PostgreSQL's every row in the
list's range or SQLite's every match of the term; both stop at the same page's
last match, so their costs compare as those counts times their costs a row.

The estimate and the walk chosen are kept a few seconds (``KEPT_S``, in each process):
every page of a list asked within them (a client paging it, another client asking
the same) says the same count and skips the probe and the sample, ~8 ms of the
database's time at a million resources; the walk itself is always made afresh.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, CompoundSelect, Select, func, select, true
from sqlalchemy.orm import Session

from ..db.among import among
from ..db.models import Resource
from .queries import ResourceFilter, count_rows, few_ids, resource_query
from .search import Searched, texts_walk

SAMPLE = 1000
"""The fewest ids a sample holds, spread evenly over the ids (2,000 until the texts'
walk: at a million resources the sample was then the larger part of ``vm-``'s list,
12 ms of PostgreSQL's ~35; 1,000 took 6)."""
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
ROW_COST = {"postgresql": 1.1, "sqlite": 5.3}
"""What a broad term's walk costs a row of the list (µs, a million resources): the
row's text looked up by id (PostgreSQL) or its own fields joined and lowered."""
TEXT_COST = {"postgresql": 0.4, "sqlite": 1.0}
"""What the texts' walk costs (µs): on PostgreSQL a row of the list's range, in the
list or not (the row and its text read side by side), on SQLite a match of the term
(read from the FTS5 index, its row looked up by id)."""


KEPT_S = 10.0
"""Seconds a broad term's estimate and walk are kept for the same list (``kept``)."""
KEPT_LISTS = 1024
"""At most this many lists' estimates kept, the least recently asked dropped first."""


class Sample(NamedTuple):
    """What evenly spread ids saw of a list and of a term."""

    listed: int  # ids in the list
    matched: int  # of those, rows holding the term
    anywhere: int  # rows holding the term, in the list or not
    weight: float  # the ids each sampled id stands for
    rows: int  # sampled ids that are rows (of the list or not, deleted or not)


class Walked(NamedTuple):
    """A broad term's count, and how its list is walked."""

    total: int
    estimated: bool
    by_texts: ByTexts | None  # None: the list's rows walked, each checked on its text
    few: list[int] | None = None  # every id of the list, when it has at most FEW


@dataclass(frozen=True)
class ByTexts:
    """A broad term's list walked on the index's texts (``search.texts_walk``), from
    the list's first id to its last."""

    dialect: str
    term: str
    in_list: ColumnElement[bool]  # the list's WHERE clause without the term
    first: int
    last: int

    @classmethod
    def of(cls, session: Session, filters: ResourceFilter) -> ByTexts | None:
        """The texts' walk of the list ``filters`` select (with a search term); None
        when the list is empty."""
        assert filters.search
        in_list = _in_list(replace(filters, search=None))
        first, last = _ends(session, in_list)
        if first is None or last is None:
            return None
        dialect = session.get_bind().dialect.name
        return cls(dialect, filters.search, in_list, first, last)

    def ids(self, after: int = 0, before: int | None = None) -> Select[Any] | CompoundSelect[Any]:
        """The list's ids after ``after`` in id order, or with ``before`` those before
        it, last first."""
        first, last = max(self.first, after + 1), self.last
        if before is not None:
            last = min(last, before - 1)
        return texts_walk(
            self.dialect, self.term, self.in_list, first, last, descending=before is not None
        )


class _Kept(NamedTuple):
    until: float  # time.monotonic()
    total: int
    by_texts: bool


_kept: OrderedDict[tuple[str, ResourceFilter], _Kept] = OrderedDict()
_kept_lock = threading.Lock()


def _kept_key(session: Session, filters: ResourceFilter) -> tuple[str, ResourceFilter]:
    return str(session.get_bind().engine.url), filters


def kept(session: Session, filters: ResourceFilter) -> Walked | None:
    """A broad term's estimated count and walk, as ``broad_count`` said them for the
    same list (the same filters, the same caller's providers, the same database) less
    than ``KEPT_S`` seconds ago; None when it did not. A texts' walk is bounded
    afresh (``ByTexts.of``): rows restored or added since may widen the list."""
    key = _kept_key(session, filters)
    with _kept_lock:
        found = _kept.get(key)
        if found is not None and found.until <= time.monotonic():
            del _kept[key]
            found = None
        if found is not None:
            _kept.move_to_end(key)
    if found is None:
        return None
    by_texts = ByTexts.of(session, filters) if found.by_texts else None
    return Walked(found.total, True, by_texts)


def _keep(session: Session, filters: ResourceFilter, walked: Walked) -> None:
    key = _kept_key(session, filters)
    with _kept_lock:
        _kept[key] = _Kept(time.monotonic() + KEPT_S, walked.total, walked.by_texts is not None)
        _kept.move_to_end(key)
        while len(_kept) > KEPT_LISTS:
            _kept.popitem(last=False)


def broad_count(session: Session, filters: ResourceFilter, base: int | None) -> Walked | None:
    """The count of a broad term's list, walked, whether it is an estimate and how it
    is walked: on its rows (``resource_query(filters, walk=True)``) or on the index's
    texts (``ByTexts``); None when gathering the list from the index costs less than
    walking it. ``base``: the list's count without the term (``counts.counted``; None
    when it cannot say)."""
    assert filters.search
    unsearched = replace(filters, search=None)
    seen = _sample(session, unsearched, filters.search, base) if base else None
    if base is None or seen is None:
        # Counted by walking the list: its few matches, read once, are also its pages
        # (a walk to count, then another to page, read the whole list twice).
        walk = resource_query(filters, walk=True).with_only_columns(Resource.id)
        few = few_ids(session, walk.order_by(Resource.id))
        if few is not None:
            return Walked(len(few), False, None, few)
        return Walked(count_rows(session, walk), False, None)
    share = seen.matched / seen.listed
    walked = base if share == 0 else min(base, WALK_PAGE / share)
    if walked > GATHER_COST * seen.anywhere * seen.weight:
        return None
    dialect = session.get_bind().dialect.name
    by_texts = ByTexts.of(session, filters) if walks_texts(dialect, filters.search, seen) else None
    answer = Walked(round(base * share), True, by_texts)
    _keep(session, filters, answer)
    return answer


def walks_texts(dialect: str, term: str, seen: Sample) -> bool:
    """Whether the list is walked on the index's texts: the sample says it costs less
    than the rows' (both stop at the same match: the rows' walk reads the list's rows
    up to it, the texts' walk every row up to it on PostgreSQL, in the list or not,
    every match of the term on SQLite); false for the rows' walk. SQLite's index finds
    only terms of three characters or more (a trigram each): a shorter one would read
    every text."""
    if dialect != "postgresql" and len(term) < 3:
        return False
    read = seen.rows if dialect == "postgresql" else seen.anywhere
    return read * TEXT_COST[dialect] < seen.listed * ROW_COST[dialect]


def _in_list(unsearched: ResourceFilter) -> ColumnElement[bool]:
    """The WHERE clause of a list without its search term (true when none)."""
    clause = resource_query(unsearched).whereclause
    return true() if clause is None else clause


def _ends(session: Session, where: ColumnElement[bool]) -> tuple[int | None, int | None]:
    """The first and the last id of the resources ``where`` selects (None, None: none).
    Two subqueries: SQLite reads min and max off the index only one at a time."""
    ends = (select(func.min(Resource.id)), select(func.max(Resource.id)))
    first, last = session.execute(
        select(*(end.where(where).scalar_subquery() for end in ends))
    ).one()
    return first, last


def _sample(session: Session, unsearched: ResourceFilter, term: str, base: int) -> Sample | None:
    """What ids spread evenly from the first id to the last see of the ``base`` rows
    ``unsearched`` selects and of ``term``: enough ids (at least ``SAMPLE``) that about
    ``AIM`` fall in the list if it is spread as evenly. None when that is as many ids
    as the list has rows (counting them costs no more), or when fewer than
    ``SAMPLED_ENOUGH`` fell in it (a list far from spread)."""
    first, last = _ends(session, true())
    if first is None or last is None:
        return None
    span = last - first + 1
    size = max(SAMPLE, math.ceil(AIM * span / base))
    if size >= base:
        return None
    step = max(1.0, span / size)
    ids = sorted({first + int(i * step) for i in range(size) if i * step < span})
    in_list = _in_list(unsearched)
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
    rows, listed, matched, anywhere = session.execute(
        select(
            func.count(),
            func.count().filter(seen.c.listed),
            func.count().filter(seen.c.listed & seen.c.held),
            func.count().filter(seen.c.held),
        )
    ).one()
    if listed < SAMPLED_ENOUGH:
        return None
    return Sample(listed, matched, anywhere, span / len(ids), rows)
