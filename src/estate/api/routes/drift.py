"""The change feed: every change across resources (the UIS's ``resource-drift/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from ...auth.roles import in_visible
from ...db.models import CollectionRun, Resource, ResourceChange
from ...inventory.drift import (
    DRIFT_TYPES,
    ORDERINGS,
    DriftFilter,
    count_drift,
    drift_item,
    drift_query,
)
from ..answers import page_answer
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, one_of
from ..pagination import Page, PageNumber, PageSize, page_of
from ..resource_filters import TYPE_SLUGS, TypeFilter
from ..schemas import ResourceDriftPublic

router = APIRouter(prefix="/resource-drift", tags=["resource-drift"])

DriftType = Annotated[
    str | None, Query(description="The kind of change", json_schema_extra={"enum": DRIFT_TYPES})
]
Ordering = Annotated[
    str,
    Query(
        description="detected_at or drift_type, - for descending",
        json_schema_extra={"enum": ORDERINGS},
    ),
]
After = Annotated[datetime | None, Query(description="Detected at or after (ISO 8601)")]
Before = Annotated[datetime | None, Query(description="Detected at or before (ISO 8601)")]


def drift_page(
    request: Request,
    session: SessionDep,
    visible: Visible,
    filters: DriftFilter,
    ordering: str,
    page: int,
    page_size: int,
) -> Response:
    """One numbered page of the changes matching ``filters`` that the caller may see,
    as its ``Page[ResourceDriftPublic]`` would serialize (built once: api/answers.py)."""
    one_of("drift_type", filters.drift_type, DRIFT_TYPES)
    one_of("ordering", ordering, ORDERINGS)
    scope = _scope(session, visible, filters.run)
    total = count_drift(session, filters, scope)
    query = drift_query(filters, scope, ordering)
    count, rows, next_url, previous = page_of(
        session, request, query, page, page_size, total=total, rows_of=True
    )
    return page_answer(count, next_url, previous, [drift_item(row) for row in rows])


def _scope(
    session: Session, visible: frozenset[int] | None, run: int | None
) -> ColumnElement[bool] | None:
    """What the caller may see of the changes, as a clause on ``Resource`` (None: all).
    A run's changes are all of its provider's resources: for a run, one look at that
    provider decides, instead of the visibility of each change's resource (a run of a
    million-resource estate changes thousands: 35 ms for an organization's member)."""
    if visible is None:
        return None
    if run is None:
        return in_visible(Resource.provider_id, visible)
    seen = select(CollectionRun.id).where(
        CollectionRun.id == run, in_visible(CollectionRun.provider_id, visible)
    )
    return None if session.scalar(seen) is not None else false()


@router.get("/", response_model=Page[ResourceDriftPublic])
def list_drift(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    resource: IdFilter | None = None,
    collection_run: IdFilter | None = None,
    drift_type: DriftType = None,
    provider: IdFilter | None = None,
    resource__provider: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="The UIS's name of provider")
    ] = None,
    resource_type: TypeFilter = None,
    detected_after: After = None,
    detected_before: Before = None,
    ordering: Ordering = "-detected_at",
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Response:
    """Every change across the resources the caller may see, newest first."""
    if provider is not None and resource__provider is not None and provider != resource__provider:
        raise HTTPException(400, detail="resource__provider: differs from provider; send one")
    filters = DriftFilter(
        resource=resource,
        provider=provider if provider is not None else resource__provider,
        resource_type=one_of("resource_type", resource_type, TYPE_SLUGS),
        run=collection_run,
        drift_type=drift_type,
        detected_after=detected_after,
        detected_before=detected_before,
    )
    return drift_page(request, session, visible, filters, ordering, page, page_size)


@router.get("/{change_id}/")
def get_drift(
    change_id: int, session: SessionDep, user: CurrentUser, visible: Visible
) -> ResourceDriftPublic:
    scope = None if visible is None else in_visible(Resource.provider_id, visible)
    query = drift_query(DriftFilter(), scope, "-detected_at").where(ResourceChange.id == change_id)
    row = session.execute(query).first() if 0 < change_id < 2**63 else None
    if row is None:
        raise HTTPException(404, detail=f"no drift with id {change_id}")
    return ResourceDriftPublic.model_validate(drift_item(row))
