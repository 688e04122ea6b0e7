"""Read the inventory: filtered resource lists, relationships, history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased

from ..db.models import Provider, Resource, ResourceChange, ResourceRelationship


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    provider: int | None = None
    resource_type: str | None = None
    state: str | None = None
    vendor: str | None = None
    region: str | None = None
    search: str | None = None
    include_deleted: bool = False


def resource_query(filters: ResourceFilter) -> Select[Resource]:
    """Resources matching ``filters``, oldest first (ids only grow, so cursors are stable)."""
    query = select(Resource)
    if filters.provider is not None:
        query = query.where(Resource.provider_id == filters.provider)
    if filters.resource_type is not None:
        query = query.where(Resource.resource_type == filters.resource_type)
    if filters.state is not None:
        query = query.where(Resource.state == filters.state)
    if filters.region is not None:
        query = query.where(Resource.region == filters.region)
    if filters.vendor is not None:
        query = query.where(
            Resource.provider_id.in_(select(Provider.id).where(Provider.vendor == filters.vendor))
        )
    if filters.search:
        pattern = (
            "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                Resource.name.ilike(pattern, escape="\\"),
                Resource.ems_ref.ilike(pattern, escape="\\"),
            )
        )
    if not filters.include_deleted:
        query = query.where(Resource.deleted_at.is_(None))
    return query


def relationships_of(session: Session, resource: Resource) -> list[dict[str, Any]]:
    """Both directions of every edge touching ``resource``, the other end resolved.

    Incoming edges come only from resources that are not deleted.
    """
    other = aliased(Resource)
    edges: list[dict[str, Any]] = []
    outgoing = session.execute(
        select(ResourceRelationship, other)
        .outerjoin(
            other,
            and_(
                other.provider_id == ResourceRelationship.provider_id,
                other.ems_ref == ResourceRelationship.target_ems_ref,
            ),
        )
        .where(
            ResourceRelationship.provider_id == resource.provider_id,
            ResourceRelationship.source_ems_ref == resource.ems_ref,
        )
        .order_by(ResourceRelationship.id)
    ).all()
    for edge, target in outgoing:
        edges.append(_edge(edge.relationship_type, "outgoing", edge.target_ems_ref, target))
    incoming = session.execute(
        select(ResourceRelationship, other)
        .outerjoin(
            other,
            and_(
                other.provider_id == ResourceRelationship.provider_id,
                other.ems_ref == ResourceRelationship.source_ems_ref,
            ),
        )
        .where(
            ResourceRelationship.provider_id == resource.provider_id,
            ResourceRelationship.target_ems_ref == resource.ems_ref,
            # A deleted resource keeps its own edges (its detail shows where it was),
            # but it no longer runs on, belongs to or uses this one.
            other.deleted_at.is_(None),
        )
        .order_by(ResourceRelationship.id)
    ).all()
    for edge, source in incoming:
        edges.append(_edge(edge.relationship_type, "incoming", edge.source_ems_ref, source))
    return edges


def _edge(kind: str, direction: str, ems_ref: str, other: Resource | None) -> dict[str, Any]:
    return {
        "relationship_type": kind,
        "direction": direction,
        "ems_ref": ems_ref,
        "resource_id": other.id if other is not None else None,
        "name": other.name if other is not None else None,
        "resource_type": other.resource_type if other is not None else None,
    }


def history_query(resource_id: int) -> Select[ResourceChange]:
    return (
        select(ResourceChange)
        .where(ResourceChange.resource_id == resource_id)
        .order_by(ResourceChange.id.desc())
    )
