"""Read the inventory: filtered resource lists, relationships, history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import replacement_traverse

from ..db.among import among
from ..db.models import (
    CollectionRun,
    Provider,
    Resource,
    ResourceChange,
    ResourceRelationship,
    ResourceSeen,
)
from .search import Searched
from .tags import TagMatch, tagged


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    provider: int | None = None
    resource_type: str | None = None
    state: str | None = None
    vendor: str | None = None
    region: str | None = None
    search: str | None = None
    include_deleted: bool = False
    os_type: str | None = None
    tags: tuple[TagMatch, ...] = ()  # every one must match
    # The providers the caller may see (None: all): the ids themselves, read once, so
    # the planner sees a list, not a subquery (see providers_of_organizations).
    providers: tuple[int, ...] | None = None


def resource_query(
    filters: ResourceFilter, walk: bool = False, matched: Any = None
) -> Select[Resource]:
    """Resources matching ``filters``, oldest first (ids only grow, so cursors are stable).

    ``walk``: a broad search term's form, each row checked on its text as the list is
    walked in id order (``inventory/broad.py``), not the search index's matches.
    ``matched``: the index's matches of the term, read already (``search.probed``)."""
    query = select(Resource)
    # With a search, the provider terms are kept off the indexes (+ 0): SQLite would
    # otherwise walk a provider's every resource rather than the search's matches.
    gathered = filters.search and not walk
    provider_id: Any = Resource.provider_id + 0 if gathered else Resource.provider_id
    if filters.provider is not None:
        query = query.where(provider_id == filters.provider)
    if filters.providers is not None:
        query = query.where(provider_id.in_(filters.providers))
    if filters.resource_type is not None:
        query = query.where(Resource.resource_type == filters.resource_type)
    if filters.state is not None:
        query = query.where(Resource.state == filters.state)
    if filters.region is not None:
        query = query.where(Resource.region == filters.region)
    if filters.os_type is not None:
        query = query.where(Resource.os_type == filters.os_type)
    if filters.vendor is not None:
        query = query.where(
            Resource.provider_id.in_(select(Provider.id).where(Provider.vendor == filters.vendor))
        )
    if filters.search:
        query = query.where(Searched(filters.search, walk, matched=matched))
    for match in filters.tags:
        query = query.where(tagged(match))
    if not filters.include_deleted:
        query = query.where(Resource.deleted_at.is_(None))
    return query


def count_rows(session: Session, query: Select[Any]) -> int:
    """How many rows ``query`` selects, counted by the database."""
    counted = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(counted or 0)


FEW = 5000
"""Matches a list counted from its matches reads in full (``few_ids``)."""


def few_ids(session: Session, ids: Select[Any], limit: int = FEW) -> list[int] | None:
    """Every id ``ids`` selects (resource ids, in id order) when it selects at most
    ``limit``; None when it selects more.

    For the lists ``counts.counted`` cannot count (``search``, ``tag``): one query then
    answers their count and any page of them. It also asks PostgreSQL for all the
    matches, which it gathers from the search or tag index and looks up by id; asked
    for a page (a LIMIT of 101) it walked the id index to its end instead, expecting
    the matches it had guessed to come early (12 ms at 200,000 resources for 2 matches,
    growing with the inventory; the whole list, count included, now 2 ms)."""
    found = list(session.scalars(ids.limit(limit + 1)))
    return found if len(found) <= limit else None


def rows_in_order(
    session: Session,
    ids_query: Executable | Sequence[int],
    columns: Sequence[Any] = (),
    id_at: int = 0,
) -> list[Any]:
    """The rows of the ids ``ids_query`` selects (or of those ids), in its order. A
    page's ids come first, from an index alone (PostgreSQL then picks the index that
    holds the filter's rows in id order, where for whole rows it walks the primary key
    past other providers' rows: 1 s at 1M), and only then a page of rows: ``Resource``
    objects, or with ``columns`` plain rows of those columns (the id at ``id_at``),
    which cost ~25 µs less each, and are read through the session's connection, not
    the ORM's result machinery (a third of the page's CPU)."""
    ids = list(ids_query if isinstance(ids_query, Sequence) else session.scalars(ids_query))
    if not ids:
        return []
    found: dict[int, Any]
    if columns:
        rows = session.connection().execute(_of_ids(tuple(columns)), {"ids": ids}).all()
        found = {r[id_at]: r for r in rows}
    else:
        found = {
            r.id: r for r in session.scalars(select(Resource).where(among(Resource.id, values=ids)))
        }
    return [found[i] for i in ids if i in found]


@cache
def _of_ids(columns: tuple[Any, ...]) -> Select[Any]:
    """``columns`` of the resources of the ids bound as ``ids``: built once (building it
    per call coerced each of a page's ids into a literal, ~10 % of a page's CPU)."""
    return with_seen(select(*columns).where(among(Resource.id, "ids")), columns)


def with_seen(query: Select[Any], clauses: Sequence[Any]) -> Select[Any]:
    """``query`` (of resources) joined to their ``resource_seen`` rows when
    ``clauses`` (its columns, or its ORDER BY) read one of that table's."""
    return _joined_seen(query) if _reads_seen(clauses) else query


def ordered(query: Select[Any], order: Sequence[Any]) -> Select[Any]:
    """``query`` (of resource ids) in ``order``. A sort by last seen joins
    ``resource_seen`` and breaks ties on its copy of the id (the same ids): SQLite
    then walks its last-seen index (``ix_resource_seen_last_seen``) to the page,
    where with ``resources.id`` it sorted every row."""
    if not _reads_seen(order):
        return query.order_by(*order)
    seen_id = ResourceSeen.__table__.c.resource_id

    def to_seen(element: Any, **_: Any) -> Any:
        if getattr(element, "table", None) is Resource.__table__ and element.key == "id":
            return seen_id
        return None

    order = [replacement_traverse(clause, {}, to_seen) for clause in order]
    return _joined_seen(query).order_by(*order)


def _reads_seen(clauses: Sequence[Any]) -> bool:
    seen = ResourceSeen.__table__
    return any(seen in find_tables(clause, check_columns=True) for clause in clauses)


def _joined_seen(query: Select[Any]) -> Select[Any]:
    return query.join_from(Resource, ResourceSeen, ResourceSeen.resource_id == Resource.id)


def providers_of_organizations(session: Session, organizations: frozenset[int]) -> tuple[int, ...]:
    """The ids of the providers of ``organizations`` (a few: one query)."""
    found = session.scalars(select(Provider.id).where(Provider.organization_id.in_(organizations)))
    return tuple(sorted(found))


def in_organization(organization_id: int) -> Any:
    """A WHERE clause keeping the resources of one organization's providers."""
    return Resource.provider_id.in_(
        select(Provider.id).where(Provider.organization_id == organization_id)
    )


def changes_query(resources: Select[Any], since: datetime | None = None) -> Select[ResourceChange]:
    """The stored history (modified, deleted, restored) of every resource ``resources``
    selects the ids of, newest first; from ``since`` on when given."""
    query = select(ResourceChange).where(ResourceChange.resource_id.in_(resources))
    if since is not None:
        query = query.where(ResourceChange.changed_at >= since)
    return query.order_by(ResourceChange.id.desc())


INCOMING_LIMIT = 200
"""A resource's detail shows the edges of at most this many resources pointing at it
(a port group of 12,000 VMs has 12,000); resource-relationships/?target= lists all."""


def relationships_of(session: Session, resource: Resource) -> tuple[list[dict[str, Any]], bool]:
    """Both directions of the edges touching ``resource``, the other end resolved, and
    whether they are all there.

    Outgoing edges are the resource's own ``relationships`` column, in the order the
    plugin sent them; incoming ones come from the reverse index, only from resources
    that are not deleted, from the first :data:`INCOMING_LIMIT` pointing resources
    (by ems_ref: the index's order). False when more resources point here.
    """
    edges: list[dict[str, Any]] = []
    declared = resource.relationships or []
    # The other ends are read as plain rows of the columns an edge shows, through the
    # session's connection: a host's 200 pointing resources as ORM objects were most
    # of its detail's CPU.
    connection = session.connection()
    if declared:
        targets = {ref for ref, _ in declared}
        found = {
            other.ems_ref: other
            for other in connection.execute(
                select(*_OTHER_END).where(
                    Resource.provider_id == resource.provider_id,
                    among(Resource.ems_ref, values=targets),
                )
            )
        }
        for target, kind in declared:
            edges.append(_edge(kind, "outgoing", target, found.get(target)))
    # The reverse index names the resources that point here; their own rows say how.
    # (An IN, not a join: the pointing ems_refs drive the lookups through
    # uq_resources_provider_ems_ref, never a scan of the provider's resources.)
    pointing = list(
        session.scalars(
            select(ResourceRelationship.source_ems_ref)
            .where(
                ResourceRelationship.provider_id == resource.provider_id,
                ResourceRelationship.target_ems_ref == resource.ems_ref,
            )
            .order_by(ResourceRelationship.source_ems_ref)
            .limit(INCOMING_LIMIT + 1)
        )
    )
    complete = len(pointing) <= INCOMING_LIMIT
    # (Sorted here: an ORDER BY id would tempt SQLite into walking the provider's
    # resources in id order.)
    sources = connection.execute(
        select(*_OTHER_END, Resource.relationships).where(
            Resource.provider_id == resource.provider_id,
            among(Resource.ems_ref, values=pointing[:INCOMING_LIMIT]),
            # A deleted resource keeps its own edges (its detail shows where it was),
            # but it no longer runs on, belongs to or uses this one.
            Resource.deleted_at.is_(None),
        )
    ).all()
    for source in sorted(sources, key=lambda source: source.id):
        for target, kind in source.relationships or ():
            if target == resource.ems_ref:
                edges.append(_edge(kind, "incoming", source.ems_ref, source))
    return edges, complete


_OTHER_END = (Resource.id, Resource.ems_ref, Resource.name, Resource.resource_type)


def _edge(kind: str, direction: str, ems_ref: str, other: Any) -> dict[str, Any]:
    return {
        "relationship_type": kind,
        "direction": direction,
        "ems_ref": ems_ref,
        "resource_id": other.id if other is not None else None,
        "name": other.name if other is not None else None,
        "resource_type": other.resource_type if other is not None else None,
    }


def history_query(resource_id: int) -> Select[ResourceChange]:
    """The stored history of a resource, newest first: every entry but ``created``."""
    return (
        select(ResourceChange)
        .where(ResourceChange.resource_id == resource_id)
        .order_by(ResourceChange.id.desc())
    )


def created_entry(session: Session, resource: Resource) -> ResourceChange:
    """The ``created`` entry of ``resource``'s history, derived from its row.

    It is not stored (a first collection writes one row per resource); its id is 0,
    below every stored entry's, and its run is None once that run is gone.
    """
    run_id = resource.first_seen_run_id
    if run_id is not None and session.get(CollectionRun, run_id) is None:
        run_id = None
    return ResourceChange(
        id=0,
        resource_id=resource.id,
        run_id=run_id,
        kind="created",
        changes=None,
        changed_at=resource.first_seen_at,
    )
