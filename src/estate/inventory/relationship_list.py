"""Relationships one edge at a time, across resources: the ``resource-relationships/`` list.

Edges live in their source's ``relationships`` column (``[[target_ems_ref, type],
…]``), with ``resource_relationships`` as the reverse index; there is no row per
edge. A page is cut from the sources in id order, each exploding into its edges in
the order the plugin sent them, so pages are stable; only the page's targets are
resolved. An edge's id is its source, type and target: it stays the same across
collections for as long as the plugin reports the edge.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session, raiseload

from ..db.among import among
from ..db.models import Resource, ResourceRelationship
from .blocks import SHALLOW, Start, block_start
from .counts import edges_counted

_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class EdgeFilter:
    source: int | None = None
    target: Resource | None = None
    relationship_type: str | None = None
    provider: int | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    source_id: int
    provider_id: int
    source_ems_ref: str
    source_name: str | None
    source_type: str
    target_ems_ref: str
    relationship_type: str
    target: Resource | None = None

    @property
    def id(self) -> str:
        return edge_id(self.source_id, self.relationship_type, self.target_ems_ref)


def edge_id(source_id: int, relationship_type: str, target_ems_ref: str) -> str:
    raw = json.dumps([source_id, relationship_type, target_ems_ref], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_edge_id(value: str) -> tuple[int, str, str] | None:
    """``(source_id, relationship_type, target_ems_ref)``, or None if it is not an edge id."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        source, kind, target = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        return None
    if not (isinstance(source, int) and isinstance(kind, str) and isinstance(target, str)):
        return None
    return source, kind, target


def _where(filters: EdgeFilter, scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """Which sources may hold a matching edge."""
    where = [Resource.relationships.is_not(None), Resource.deleted_at.is_(None), scope]
    if filters.source is not None:
        where.append(Resource.id == filters.source)
    if filters.provider is not None:
        where.append(Resource.provider_id == filters.provider)
    if filters.relationship_type is not None:
        # A coarse cut in SQL (the type's JSON string is somewhere in the column);
        # the exact test is made on each edge.
        pattern = '%"' + filters.relationship_type + '"%'
        where.append(cast(Resource.relationships, Text).like(pattern))
    target = filters.target
    if target is not None:
        # The reverse index names the sources pointing at the target: one index range.
        where += [
            Resource.provider_id == target.provider_id,
            Resource.ems_ref.in_(
                select(ResourceRelationship.source_ems_ref).where(
                    ResourceRelationship.provider_id == target.provider_id,
                    ResourceRelationship.target_ems_ref == target.ems_ref,
                )
            ),
        ]
    return where


def _sources(
    where: list[ColumnElement[bool]],
) -> Select[int, int, str, str | None, str, list[list[str]] | None]:
    return (
        select(
            Resource.id,
            Resource.provider_id,
            Resource.ems_ref,
            Resource.name,
            Resource.resource_type,
            Resource.relationships,
        )
        .where(*where)
        .order_by(Resource.id)
    )


def _edges(session: Session, filters: EdgeFilter, scope: ColumnElement[bool]) -> Iterator[Edge]:
    last = 0
    while True:
        rows = session.execute(
            _sources(_where(filters, scope)).where(Resource.id > last).limit(_CHUNK)
        ).all()
        for source_id, provider_id, ems_ref, name, kind_of_source, declared in rows:
            for target_ref, kind in declared or ():
                if filters.relationship_type not in (None, kind):
                    continue
                if filters.target is not None and target_ref != filters.target.ems_ref:
                    continue
                yield Edge(source_id, provider_id, ems_ref, name, kind_of_source, target_ref, kind)
        if len(rows) < _CHUNK:
            return
        last = rows[-1][0]


def edge_page(
    session: Session,
    filters: EdgeFilter,
    scope: ColumnElement[bool],
    offset: int,
    limit: int,
    by_type: str | None = None,
    total: int | None = None,
) -> tuple[int, list[Edge]]:
    """The total number of matching edges and those of ``[offset, offset + limit)``.

    ``by_type`` orders them by relationship type (``-`` descending), then as usual: it
    holds every matching edge in memory, where the usual order holds one page.
    ``total``: the count, when the caller has it from ``counts.edges_counted`` (the
    list filtered by provider and scope alone: ``counted_edge_page``).
    """
    if by_type is None and filters.relationship_type is None and filters.target is None:
        return _counted_page(session, _where(filters, scope), offset, limit, total)
    total = 0
    page: list[Edge] = []
    edges: Iterable[Edge] = _edges(session, filters, scope)
    if by_type:
        edges = sorted(edges, key=lambda e: e.relationship_type, reverse=by_type.startswith("-"))
    for edge in edges:
        if offset <= total < offset + limit:
            page.append(edge)
        total += 1
    return total, _resolved(session, page)


def counted_edge_page(
    session: Session,
    filters: EdgeFilter,
    scope: ColumnElement[bool],
    providers: tuple[int, ...] | None,
    offset: int,
    limit: int,
    by_type: str | None = None,
) -> tuple[int, list[Edge]]:
    """``edge_page`` of every edge of the living resources of ``providers`` (those the
    caller may see; None: all) or of ``filters.provider``, filtered by nothing else:
    counted from ``resource_counts`` and, in source order, walked from the block of
    ids holding ``offset`` (``resource_blocks``): both whatever the inventory's size."""
    total = edges_counted(session, filters.provider, providers)
    if offset >= total:  # past the last edge: nothing to walk
        return total, []
    if by_type is not None:
        return edge_page(session, filters, scope, offset, limit, by_type, total)
    start = None
    if offset >= SHALLOW:
        start = block_start(session, offset, providers, filters.provider, edges=True)
    return _counted_page(session, _where(filters, scope), offset, limit, total, start)


def _counted_page(
    session: Session,
    where: list[ColumnElement[bool]],
    offset: int,
    limit: int,
    total: int | None,
    start: Start | None = None,
) -> tuple[int, list[Edge]]:
    """A page where every edge of the sources matches: the database counts them, when
    ``total`` is not given already. The walk begins at ``start`` when given.

    Each source's number of edges is the database's generated ``relationship_count``,
    read with the id from one partial index (``ix_resources_edges``): neither the count
    nor the walk to a deep page decodes any JSON; only the sources the page cuts
    through are loaded.
    """
    length = func.coalesce(Resource.relationship_count, 0)
    if total is None:
        summed = select(func.coalesce(func.sum(length), 0)).where(*where)
        total = int(session.scalar(summed) or 0)
    wanted: list[int] = []
    skip = 0
    seen, last = (start.before, start.first_id - 1) if start is not None else (0, 0)
    while seen < offset + limit:
        rows = session.execute(
            select(Resource.id, length)
            .where(*where, Resource.id > last)
            .order_by(Resource.id)
            .limit(_CHUNK)
        ).all()
        for source_id, count in rows:
            if seen + count > offset:
                if not wanted:
                    skip = offset - seen
                wanted.append(source_id)
            seen += count
            if seen >= offset + limit:
                break
        if len(rows) < _CHUNK:
            break
        last = rows[-1][0]
    page: list[Edge] = []
    if wanted:
        for source_id, provider_id, ems_ref, name, kind_of_source, declared in session.execute(
            _sources([among(Resource.id, values=wanted)])
        ):
            for target_ref, kind in declared or ():
                page.append(
                    Edge(source_id, provider_id, ems_ref, name, kind_of_source, target_ref, kind)
                )
    return total, _resolved(session, page[skip : skip + limit])


def find_edge(session: Session, source: Resource, kind: str, target_ems_ref: str) -> Edge | None:
    """The edge ``source`` declares of type ``kind`` to ``target_ems_ref``, if it still does."""
    if source.deleted_at is not None:
        return None
    for target_ref, declared_kind in source.relationships or ():
        if (target_ref, declared_kind) == (target_ems_ref, kind):
            edge = Edge(
                source.id,
                source.provider_id,
                source.ems_ref,
                source.name,
                source.resource_type,
                target_ref,
                kind,
            )
            return _resolved(session, [edge])[0]
    return None


def _resolved(session: Session, edges: list[Edge]) -> list[Edge]:
    """``edges`` with their targets looked up, one query for the lot."""
    wanted: dict[int, set[str]] = {}
    for edge in edges:
        wanted.setdefault(edge.provider_id, set()).add(edge.target_ems_ref)
    if not wanted:
        return edges
    clause = or_(
        *(
            and_(Resource.provider_id == provider, among(Resource.ems_ref, values=refs))
            for provider, refs in wanted.items()
        )
    )
    # (An edge shows its target's id, name and type: not its last seen, which a
    # Resource is otherwise loaded with, one more probe a target.)
    targets = select(Resource).where(clause).options(raiseload(Resource.seen))
    found = {(r.provider_id, r.ems_ref): r for r in session.scalars(targets)}
    return [
        Edge(
            e.source_id,
            e.provider_id,
            e.source_ems_ref,
            e.source_name,
            e.source_type,
            e.target_ems_ref,
            e.relationship_type,
            found.get((e.provider_id, e.target_ems_ref)),
        )
        for e in edges
    ]
