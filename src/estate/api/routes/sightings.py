"""Sightings: each observation of a resource and the runs that saw it unchanged.

Served in the UIS's ``resource-sightings/`` shape from compact storage (see
inventory/sightings.py): one item per observation, with its first and last run and
time and ``seen_count``, instead of one per run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from inventory_providers.base import STATES

from ...auth.roles import in_visible
from ...db.models import Resource
from ...inventory.sightings import (
    SIGHTING_ORDERINGS,
    SightingFilter,
    ordered,
    sighting_item,
    sighting_query,
)
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, one_of
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import ResourceSightingPublic

router = APIRouter(prefix="/resource-sightings", tags=["resource-sightings"])

_STATES = sorted(STATES)
State = Annotated[
    str | None, Query(description="The observed state", json_schema_extra={"enum": _STATES})
]
Ordering = Annotated[
    str,
    Query(
        description="seen_at, state, cpu_count or memory_mb; - for descending",
        json_schema_extra={"enum": SIGHTING_ORDERINGS},
    ),
]
SeenAfter = Annotated[datetime | None, Query(description="Last seen at or after (ISO 8601)")]
SeenBefore = Annotated[datetime | None, Query(description="First seen at or before (ISO 8601)")]


def sighting_page(
    request: Request,
    session: SessionDep,
    visible: Visible,
    filters: SightingFilter,
    ordering: str,
    page: int,
    page_size: int,
) -> Page[ResourceSightingPublic]:
    """One numbered page of the sightings matching ``filters`` that the caller may see."""
    one_of("state", filters.state, _STATES)
    one_of("ordering", ordering, SIGHTING_ORDERINGS)
    scope = None if visible is None else in_visible(Resource.provider_id, visible)
    query = ordered(sighting_query(filters, scope), ordering)
    count, rows, next_url, previous = page_of(
        session, request, query, page, page_size, rows_of=True
    )
    results = [ResourceSightingPublic.model_validate(sighting_item(row)) for row in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.get("/")
def list_sightings(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    resource: IdFilter | None = None,
    collection_run: IdFilter | None = None,
    provider: IdFilter | None = None,
    state: State = None,
    seen_after: SeenAfter = None,
    seen_before: SeenBefore = None,
    search: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    ordering: Ordering = "-seen_at",
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceSightingPublic]:
    """Every sighting of the resources the caller may see, newest first."""
    filters = SightingFilter(
        resource=resource,
        provider=provider,
        run=collection_run,
        state=state,
        seen_after=seen_after,
        seen_before=seen_before,
        search=search,
    )
    return sighting_page(request, session, visible, filters, ordering, page, page_size)


@router.get("/{sighting_id}/")
def get_sighting(
    sighting_id: str, session: SessionDep, user: CurrentUser, visible: Visible
) -> ResourceSightingPublic:
    """One sighting by its ``<resource>-<seen_before>`` id, current or ended."""
    resource, _, ordinal = sighting_id.partition("-")
    if not (resource.isdigit() and ordinal.isdigit() and 0 < int(resource) < 2**63):
        raise HTTPException(404, detail=f"no sighting with id {sighting_id}")
    scope = None if visible is None else in_visible(Resource.provider_id, visible)
    sightings = sighting_query(SightingFilter(resource=int(resource)), scope)
    query = select(sightings).where(sightings.c.seen_before == int(ordinal[:10]))
    row = session.execute(query).first()
    if row is None:
        raise HTTPException(404, detail=f"no sighting with id {sighting_id}")
    return ResourceSightingPublic.model_validate(sighting_item(row))
