"""The events plugins published, newest first: one query for the API's list and the
web UI's page, filtered the same way and to the caller's organizations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from ..db.models import Event


@dataclass(frozen=True)
class EventFilter:
    """What a list of events is narrowed to (None: not narrowed)."""

    provider: int | None = None
    run: int | None = None
    action_run: int | None = None
    type: str | None = None
    severity: str | None = None


def event_query(filters: EventFilter, scope: ColumnElement[bool]) -> Select[Any]:
    """Events within ``scope`` (the caller's organizations: ``auth.roles.in_visible``
    of ``Event.provider_id``), newest first."""
    query = select(Event).where(scope).order_by(Event.created_at.desc(), Event.id.desc())
    if filters.provider is not None:
        query = query.where(Event.provider_id == filters.provider)
    if filters.run is not None:
        query = query.where(Event.run_id == filters.run)
    if filters.action_run is not None:
        query = query.where(Event.action_run_id == filters.action_run)
    if filters.type is not None:
        query = query.where(Event.type == filters.type)
    if filters.severity is not None:
        query = query.where(Event.severity == filters.severity)
    return query
