"""Every relationship between resources, one edge per item, as the seed service lists them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from inventory_providers.base import RELATIONSHIP_TYPES

from ...auth import roles
from ...auth.roles import in_visible
from ...db.models import Resource
from ...db.storable import INT_MAX
from ...inventory.queries import providers_of_organizations
from ...inventory.relationship_list import (
    Edge,
    EdgeFilter,
    counted_edge_page,
    edge_page,
    find_edge,
    parse_edge_id,
)
from ..deps import CurrentUser, SessionDep, Visible, fits, one_of
from ..pagination import Page, PageNumber, PageSize, page_links
from ..taxonomy_schemas import ResourceRelationshipPublic

router = APIRouter(prefix="/resource-relationships", tags=["resources"])

_KINDS = sorted(RELATIONSHIP_TYPES)
ResourceId = Annotated[int, Query(ge=1, le=INT_MAX, description="A resource id")]
ProviderId = Annotated[int, Query(ge=1, le=INT_MAX, description="A provider id")]


def _public(edge: Edge) -> ResourceRelationshipPublic:
    target = edge.target
    return ResourceRelationshipPublic(
        id=edge.id,
        source=edge.source_id,
        source_name=edge.source_name,
        target=target.id if target is not None else None,
        target_name=target.name if target is not None else None,
        relationship_type=edge.relationship_type,
        properties={},
        provider=edge.provider_id,
        source_ems_ref=edge.source_ems_ref,
        target_ems_ref=edge.target_ems_ref,
        source_resource_type=edge.source_type,
        target_resource_type=target.resource_type if target is not None else None,
    )


@router.get("/")
def list_relationships(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    source: ResourceId | None = None,
    target: ResourceId | None = None,
    relationship_type: Annotated[str | None, Query(json_schema_extra={"enum": _KINDS})] = None,
    provider: ProviderId | None = None,
    provider__id: ProviderId | None = None,
    ordering: Annotated[
        str | None, Query(json_schema_extra={"enum": ["relationship_type", "-relationship_type"]})
    ] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceRelationshipPublic]:
    """Edges of visible resources, in source id order; ``target`` uses the reverse index."""
    one_of("relationship_type", relationship_type, _KINDS)
    one_of("ordering", ordering, ("relationship_type", "-relationship_type"))
    if provider is not None and provider__id is not None and provider != provider__id:
        raise HTTPException(400, detail="provider__id: differs from provider")
    scope = in_visible(Resource.provider_id, visible)
    target_row = None
    if target is not None:
        target_row = session.scalar(select(Resource).where(Resource.id == target, scope))
        if target_row is None:
            return Page(count=0, next=None, previous=None, results=[])
    filters = EdgeFilter(source, target_row, relationship_type, provider or provider__id)
    offset = (page - 1) * page_size
    if source is None and target is None and relationship_type is None:
        # Every edge of the visible (or one) provider's living resources: counted and
        # placed from a few rows, whatever the inventory's size.
        providers = None if visible is None else providers_of_organizations(session, visible)
        total, edges = counted_edge_page(
            session, filters, scope, providers, offset, page_size, ordering
        )
    else:
        total, edges = edge_page(session, filters, scope, offset, page_size, ordering)
    next_url, previous = page_links(request, page, page_size, total)
    return Page(count=total, next=next_url, previous=previous, results=[_public(e) for e in edges])


@router.get("/{relationship_id}/")
def get_relationship(
    relationship_id: str, session: SessionDep, user: CurrentUser
) -> ResourceRelationshipPublic:
    """One edge, by the id the list gave; 404 once its source no longer reports it."""
    missing = HTTPException(404, detail=f"no relationship with id {relationship_id}")
    parsed = parse_edge_id(relationship_id)
    if parsed is None or not fits(parsed[0], INT_MAX):
        raise missing
    source_id, kind, target_ref = parsed
    source = session.get(Resource, source_id)
    if source is None:
        raise missing
    if not user.is_admin:
        organization_id = roles.organization_of(session, source)
        if organization_id is None or roles.role_in(session, user, organization_id) is None:
            raise missing
    edge = find_edge(session, source, kind, target_ref)
    if edge is None:
        raise missing
    return _public(edge)
