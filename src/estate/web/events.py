"""Events plugins published, newest first: the API's query (``inventory.events``) with
its filters, within the visitor's organizations, in pages of 50 (a page reads one
row more than it shows to know whether there is a next one: no count of the table)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select
from sqlalchemy.orm import Session

from inventory_providers.base import EVENT_SEVERITIES

from ..auth.roles import in_visible
from ..db.models import Event
from ..inventory.events import EventFilter, event_query
from .dashboard import visible_providers
from .deps import CHECKS, PageError, PageSession, PageVisitor
from .templating import page

router = APIRouter(include_in_schema=False, dependencies=CHECKS)
PAGE_SIZE = 50
MAX_PAGE = 2000

Text = Annotated[str | None, Query(max_length=100)]


def id_or_none(name: str, value: str | None) -> int | None:
    """A filter's id ("" from a form: none); 400 for anything but an id."""
    if not value:
        return None
    if not (value.isdigit() and 0 < int(value) < 2**31):
        raise PageError(400, f"{name}: {value!r} is not an id")
    return int(value)


def one_page(session: Session, query: Select[Any], number: int) -> tuple[list[Any], bool]:
    """Page ``number`` of ``query`` without a count: its rows, and whether another page
    follows (one row more is read; none follows page ``MAX_PAGE``)."""
    rows = list(session.scalars(query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE and number < MAX_PAGE


@router.get("/events")
def event_list(
    request: Request,
    session: PageSession,
    visitor: PageVisitor,
    type: Text = None,
    severity: Text = None,
    provider: Text = None,
    run: Text = None,
    action_run: Text = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    if severity and severity not in EVENT_SEVERITIES:
        raise PageError(400, f"severity: {severity!r} is not one of {', '.join(EVENT_SEVERITIES)}")
    filters = EventFilter(
        provider=id_or_none("provider", provider),
        run=id_or_none("run", run),
        action_run=id_or_none("action_run", action_run),
        type=type or None,
        severity=severity or None,
    )
    query = event_query(filters, in_visible(Event.provider_id, visitor.visible))
    rows, has_next = one_page(session, query, page_number)
    values = {
        "type": type or "",
        "severity": severity or "",
        "provider": provider or "",
        "run": run or "",
        "action_run": action_run or "",
    }
    return page(
        request,
        "events.html",
        events=rows,
        providers={p.id: p for p in visible_providers(session, visitor)},
        severities=EVENT_SEVERITIES,
        values=values,
        page_number=page_number,
        has_next=has_next,
    )
