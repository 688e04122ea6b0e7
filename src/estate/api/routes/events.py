"""Events plugins published (seed 001's *publish*): newest first, with filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from inventory_providers.base import EVENT_SEVERITIES

from ...auth.roles import in_visible
from ...db.models import Event
from ...db.storable import INT_MAX
from ...inventory.events import EventFilter, event_query
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, get_in_scope_or_404, one_of
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import EventPublic

router = APIRouter(prefix="/events", tags=["events"])

TypeFilter = Annotated[str | None, Query(max_length=100, description="The event type")]


def event_public(event: Event) -> EventPublic:
    return EventPublic(
        id=event.id,
        provider=event.provider_id,
        run=event.run_id,
        action_run=event.action_run_id,
        plugin_key=event.plugin_key,
        type=event.type,
        severity=event.severity,
        message=event.message,
        data=event.data or {},
        created_at=event.created_at,
    )


@router.get("/")
def list_events(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    provider: IdFilter | None = None,
    run: IdFilter | None = None,
    action_run: IdFilter | None = None,
    type: TypeFilter = None,
    severity: Annotated[
        str | None, Query(json_schema_extra={"enum": list(EVENT_SEVERITIES)})
    ] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[EventPublic]:
    filters = EventFilter(
        provider=provider,
        run=run,
        action_run=action_run,
        type=type,
        severity=one_of("severity", severity, EVENT_SEVERITIES),
    )
    query = event_query(filters, in_visible(Event.provider_id, visible))
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    return Page(
        count=count, next=next_url, previous=previous, results=[event_public(e) for e in rows]
    )


@router.get("/{event_id}/")
def get_event(event_id: int, session: SessionDep, user: CurrentUser) -> EventPublic:
    return event_public(get_in_scope_or_404(session, user, Event, event_id, "event", limit=INT_MAX))
