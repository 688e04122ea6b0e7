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

from sqlalchemy import ColumnElement, Select, Text, and_, cast, or_, select
from sqlalchemy.orm import Session

from ..db.models import Resource, ResourceRelationship

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


def _sources(
    filters: EdgeFilter, scope: ColumnElement[bool]
) -> Select[int, int, str, str | None, str, list[list[str]] | None]:
    query = select(
        Resource.id,
        Resource.provider_id,
        Resource.ems_ref,
        Resource.name,
        Resource.resource_type,
        Resource.relationships,
    ).where(Resource.relationships.is_not(None), Resource.deleted_at.is_(None), scope)
    if filters.source is not None:
        query = query.where(Resource.id == filters.source)
    if filters.provider is not None:
        query = query.where(Resource.provider_id == filters.provider)
    if filters.relationship_type is not None:
        # A coarse cut in SQL (the type's JSON string is somewhere in the column);
        # the exact test is made on each edge.
        pattern = '%"' + filters.relationship_type + '"%'
        query = query.where(cast(Resource.relationships, Text).like(pattern))
    target = filters.target
    if target is not None:
        # The reverse index names the sources pointing at the target: one index range.
        query = query.where(
            Resource.provider_id == target.provider_id,
            Resource.ems_ref.in_(
                select(ResourceRelationship.source_ems_ref).where(
                    ResourceRelationship.provider_id == target.provider_id,
                    ResourceRelationship.target_ems_ref == target.ems_ref,
                )
            ),
        )
    return query.order_by(Resource.id)


def _edges(session: Session, filters: EdgeFilter, scope: ColumnElement[bool]) -> Iterator[Edge]:
    last = 0
    while True:
        rows = session.execute(
            _sources(filters, scope).where(Resource.id > last).limit(_CHUNK)
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
) -> tuple[int, list[Edge]]:
    """The total number of matching edges and those of ``[offset, offset + limit)``.

    ``by_type`` orders them by relationship type (``-`` descending), then as usual: it
    holds every matching edge in memory, where the usual order holds one page.
    """
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
            and_(Resource.provider_id == provider, Resource.ems_ref.in_(refs))
            for provider, refs in wanted.items()
        )
    )
    found = {(r.provider_id, r.ems_ref): r for r in session.scalars(select(Resource).where(clause))}
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
