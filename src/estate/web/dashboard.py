"""The dashboard: the estate at a glance, cheap at a million resources.

Counts come from ``resource_counts`` (a few rows per provider and type, kept by
triggers), the failing providers from each provider's newest run, the latest changes
from the change feed's index; the running work is a live part.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import taxonomy
from ..auth.roles import in_visible
from ..context import Context
from ..db.models import ActionRun, CollectionRun, Provider, Resource, ResourceCount
from ..db.states import RunStatus
from ..inventory.drift import DriftFilter, drift_item, drift_query
from ..inventory.providers import provider_stats
from ..jobs.collect import ACTIVE
from ..jobs.schedule import behind_schedule
from . import live
from .deps import LiveVisitor, PageSession, PageVisitor, Visitor
from .templating import fragment, page

router = APIRouter(include_in_schema=False)
TYPE_NAMES = {t.slug: t.name for t in taxonomy.RESOURCE_TYPES}
_FAILED = (RunStatus.FAILED, RunStatus.PARTIAL)


def visible_providers(session: Session, visitor: Visitor) -> list[Provider]:
    query = select(Provider).order_by(Provider.name)
    if visitor.visible is not None:
        query = query.where(Provider.organization_id.in_(visitor.visible))
    return list(session.scalars(query))


def _counts(session: Session, provider_ids: list[int]) -> dict[str, Counter[Any]]:
    rows = session.execute(
        select(
            ResourceCount.provider_id,
            ResourceCount.resource_type,
            ResourceCount.state,
            func.sum(ResourceCount.n),
        )
        .where(ResourceCount.deleted.is_(False), ResourceCount.provider_id.in_(provider_ids))
        .group_by(ResourceCount.provider_id, ResourceCount.resource_type, ResourceCount.state)
    )
    counts: dict[str, Counter[Any]] = {"type": Counter(), "provider": Counter(), "state": Counter()}
    for provider_id, kind, state, n in rows:
        counts["type"][kind] += int(n)
        counts["provider"][provider_id] += int(n)
        counts["state"][state] += int(n)
    return counts


def running(session: Session, visible: frozenset[int] | None) -> dict[str, Any]:
    """The collections and actions pending or running that the visitor may see."""
    collections = session.scalars(
        select(CollectionRun)
        .where(CollectionRun.status.in_(ACTIVE), in_visible(CollectionRun.provider_id, visible))
        .order_by(CollectionRun.id)
        .limit(50)
    ).all()
    actions = session.scalars(
        select(ActionRun)
        .where(ActionRun.status.in_(ACTIVE), in_visible(ActionRun.provider_id, visible))
        .order_by(ActionRun.id)
        .limit(50)
    ).all()
    return {"collections": collections, "actions": actions}


def _running_key(found: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (r.id, r.status, r.resources_found, r.resources_created, r.resources_updated, r.errors)
        for r in found["collections"]
    ) + tuple((a.id, a.status) for a in found["actions"])


@router.get("/")
def dashboard(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    providers = visible_providers(session, visitor)
    ids = [p.id for p in providers]
    counts = _counts(session, ids)
    stats = provider_stats(session, ids)
    failing = [p for p in providers if stats[p.id].last_collection_status in _FAILED]
    late_after = timedelta(
        seconds=max(60.0, 5 * request.app.state.context.settings.schedule_interval)
    )
    behind = behind_schedule(session, ids, datetime.now(UTC), late_after)
    scope = None if visitor.visible is None else in_visible(Resource.provider_id, visitor.visible)
    changes = [
        drift_item(row)
        for row in session.execute(drift_query(DriftFilter(), scope, "-detected_at").limit(15))
    ]
    return page(
        request,
        "dashboard.html",
        providers={p.id: p for p in providers},
        total=sum(counts["provider"].values()),
        by_type=counts["type"].most_common(),
        by_state=counts["state"].most_common(),
        by_provider=counts["provider"].most_common(),
        type_names=TYPE_NAMES,
        failing=failing,
        behind=behind,
        stats=stats,
        changes=changes,
        running=running(session, visitor.visible),
    )


@router.get("/live/dashboard")
def dashboard_live(request: Request, visitor: LiveVisitor) -> StreamingResponse:
    visible = visitor.visible

    def look(context: Context) -> live.Snapshot:
        with context.reads() as session:
            found = running(session, visible)
            key = _running_key(found)
            html = fragment("_running.html", running=found)
        return key, bool(key), lambda: {"running": html}

    return live.stream(request, look)
