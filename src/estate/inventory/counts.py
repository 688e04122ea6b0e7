"""How many resources a list holds, from ``resource_counts`` wherever it can answer.

``count`` of a resource list is exact but for a broad search term's (below). It is
a sum over the few rows of ``resource_counts`` (kept by triggers in the transaction
of every write: see models.ResourceCount) when the list is filtered only by
provider, vendor, type, state, os_type, region and deletion, and by the providers
the caller may see — every list but ``search`` and ``tag``. Those two are counted
from their indexes (the search index, the tag index): exact too, at the cost of the
matching rows. A list filtered by tags and by provider alone is counted from
``resource_tags`` alone, which keeps each resource's provider and life beside its
tags (migration 0023).

A broad search term's list (more than ``FEW`` indexed matches: ``vm-``, ``10.``) is
walked, and its count is the one estimate (``broad.py``), kept a few seconds for the
same list (``broad.kept``). An answer's ``count`` says
which it is (``Listed.estimated``), and a page that reaches the list's end makes it
exact (``settled``).

The same rows sum the edges of living resources (``edges``), the count of the
``resource-relationships/`` list unless it is filtered by source, target or type.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import CompoundSelect, Select, func, select
from sqlalchemy.orm import Session

from ..db.models import Provider, Resource, ResourceCount
from .blocks import numbered_ids
from .broad import ByTexts, Walked, broad_count, kept
from .queries import FEW, ResourceFilter, count_rows, few_ids, resource_query
from .search import broad_term, probed
from .tags import tagged_ids


class Listed(NamedTuple):
    """A resource list's count, and how to page it."""

    total: int
    few: list[int] | None  # every id of the list, when counted one by one (few_ids)
    query: Select[Any]  # the list's rows: for a broad search, walked in id order
    estimated: bool = False  # total is an estimate (a broad search's)
    by_texts: ByTexts | None = None  # a broad search's ids in id order, from the texts

    def ids_after(self, last: int) -> Select[Any] | CompoundSelect[Any]:
        """The list's ids after ``last`` (0: from the start), in id order."""
        if self.by_texts is not None:
            return self.by_texts.ids(after=last)
        # (no range when last is 0: it tempted SQLite off the search index)
        after = self.query.where(Resource.id > last) if last else self.query
        return after.with_only_columns(Resource.id).order_by(Resource.id)

    def ids_before(self, last: int) -> Select[Any] | CompoundSelect[Any]:
        """The list's ids before ``last``, the last first."""
        if self.by_texts is not None:
            return self.by_texts.ids(before=last)
        before = self.query.with_only_columns(Resource.id).where(Resource.id < last)
        return before.order_by(Resource.id.desc())

    def numbered(
        self,
        session: Session,
        filters: ResourceFilter,
        offset: int,
        limit: int,
        order: list[Any] | None,
    ) -> Select[Any] | CompoundSelect[Any] | list[int]:
        """The ids of a numbered page (``blocks.numbered_ids``)."""
        if self.by_texts is not None and order is None:
            return self.by_texts.ids().offset(offset).limit(limit)
        return numbered_ids(session, self.query, filters, offset, limit, order)

    def settled(self, start: int, shown: int, more: bool) -> tuple[int, bool]:
        """The count to answer for a page of ``shown`` rows after ``start`` others,
        ``more`` when rows follow it, and whether it is an estimate: a page that
        holds the list's last row knows the list's length; another keeps the
        estimate, raised to the rows the page saw."""
        if not self.estimated:
            return self.total, False
        if not more and (shown or not start):
            return start + shown, False
        return max(self.total, start + shown + int(more)), True


def counted(session: Session, filters: ResourceFilter) -> int | None:
    """The number of resources ``filters`` select, or None when ``resource_counts``
    cannot say."""
    if filters.search or filters.tags or "" in (filters.os_type, filters.region):
        return None  # '' stands for NULL in resource_counts
    query = select(func.coalesce(func.sum(ResourceCount.n), 0))
    if filters.providers is not None:
        query = query.where(ResourceCount.provider_id.in_(filters.providers))
    if filters.provider is not None:
        query = query.where(ResourceCount.provider_id == filters.provider)
    if filters.vendor is not None:
        of_vendor = select(Provider.id).where(Provider.vendor == filters.vendor)
        query = query.where(ResourceCount.provider_id.in_(of_vendor))
    for column, value in (
        (ResourceCount.resource_type, filters.resource_type),
        (ResourceCount.state, filters.state),
        (ResourceCount.os_type, filters.os_type),
        (ResourceCount.region, filters.region),
    ):
        if value is not None:
            query = query.where(column == value)
    if not filters.include_deleted:
        query = query.where(ResourceCount.deleted.is_(False))
    return int(session.scalar(query) or 0)


def listed(session: Session, filters: ResourceFilter, query: Select[Any]) -> Listed:
    """The count of the resource list ``query`` selects by ``filters``, its ids when
    they were counted one by one (``few_ids``: a search's or a tag's few matches, in id
    order, every page of the list), and the query to page it with."""
    total = counted(session, filters)
    if total is not None:
        return Listed(total, None, query)
    listed_already = False  # the list was read up to FEW + 1 ids: more than FEW
    if filters.search:
        if (walked := kept(session, filters)) is not None:
            return _broad_listed(filters, walked)  # a broad term's list asked a moment ago
        broad, few, listed_already = _probed(session, filters)
        if few is not None:
            return Listed(len(few), few, query)
        if broad:
            base = counted(session, replace(filters, search=None))
            walked = broad_count(session, filters, base)
            if walked is not None:  # else gathering costs less: as a rarer term's list
                return _broad_listed(filters, walked)
    ids = _tagged(filters)
    if ids is None:
        ids = query.with_only_columns(Resource.id).order_by(Resource.id)
    few = None if listed_already else few_ids(session, ids)
    if few is not None:
        return Listed(len(few), few, query)
    return Listed(count_rows(session, ids), None, query)


def _broad_listed(filters: ResourceFilter, walked: Walked) -> Listed:
    """A broad term's list, walked on its rows or on the index's texts."""
    total, estimated, by_texts, few = walked
    return Listed(total, few, resource_query(filters, walk=True), estimated, by_texts)


def _probed(session: Session, filters: ResourceFilter) -> tuple[bool, list[int] | None, bool]:
    """Whether the search term is broad (more than ``FEW`` indexed texts hold it:
    ``search.broad_term``); on PostgreSQL, a rarer term's list, its ids when it has
    at most ``FEW``; and whether that list was read (so has more than ``FEW``).

    On PostgreSQL one statement asks the index once (``search.probed``, at most
    ``FEW + 1`` matches) and lists the term's matches from those (the queue's and the
    tags' too), unless they were too many: a host's name at a million resources cost
    two trigram lookups of ~10 ms each, as two statements. SQLite asks its FTS5 index
    (~1 ms) and lists apart (``few_ids``)."""
    assert filters.search
    if session.get_bind().dialect.name != "postgresql":
        return broad_term(session, filters.search, FEW), None, False
    matched = probed(filters.search, FEW)
    found = select(func.count()).select_from(matched).scalar_subquery()
    ids = (
        resource_query(filters, matched=matched)
        .with_only_columns(Resource.id)
        .where(found <= FEW)  # once (an InitPlan): a broad term's list is not read
        .order_by(Resource.id)
        .limit(FEW + 1)
    )
    held, few = session.execute(select(found, func.array(ids.scalar_subquery()))).one()
    if held > FEW:
        return True, None, False
    return False, (list(few) if len(few) <= FEW else None), True


def _tagged(filters: ResourceFilter) -> Select[Any] | None:
    """The ids of a list filtered by tags and by provider and the caller's
    organizations alone, from ``resource_tags`` alone (``tags.tagged_ids``); None for
    any other list."""
    alone = ResourceFilter(
        provider=filters.provider,
        providers=filters.providers,
        include_deleted=filters.include_deleted,
        tags=filters.tags,
    )
    if not filters.tags or filters != alone:
        return None
    return tagged_ids(filters.tags, filters.providers, filters.provider, filters.include_deleted)


def edges_counted(session: Session, provider: int | None, providers: tuple[int, ...] | None) -> int:
    """The number of edges the living resources declare: of ``provider`` when given,
    of ``providers`` (those the caller may see; None: all)."""
    query = select(func.coalesce(func.sum(ResourceCount.edges), 0)).where(
        ResourceCount.deleted.is_(False)
    )
    if provider is not None:
        query = query.where(ResourceCount.provider_id == provider)
    if providers is not None:
        query = query.where(ResourceCount.provider_id.in_(providers))
    return int(session.scalar(query) or 0)
