"""Providers: the list with resource counts and last runs; a provider's page with its
collect button (operators and above), its plugin version policy and what it resolves
to (registry.versions.resolve_for; pin, unpin and rollback for system administrators)
and its latest run, live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..context import Context
from ..db.models import CollectionRun, CollectionSchedule, Provider
from ..db.states import Role
from ..inventory.providers import provider_stats
from ..jobs.collect import ACTIVE
from ..registry.compatibility import is_usable
from ..registry.versions import ready_versions, resolve_for, rollback_target
from . import live
from .dashboard import visible_providers
from .deps import LiveVisitor, PageSession, PageVisitor, Visitor, visible_or_404
from .templating import fragment, page

router = APIRouter(include_in_schema=False)


def _latest_runs(session: Session, provider_ids: list[int]) -> dict[int, CollectionRun]:
    if not provider_ids:
        return {}
    newest = (
        select(func.max(CollectionRun.id))
        .where(CollectionRun.provider_id.in_(provider_ids))
        .group_by(CollectionRun.provider_id)
    )
    rows = session.scalars(select(CollectionRun).where(CollectionRun.id.in_(newest)))
    return {run.provider_id: run for run in rows}


@router.get("/providers")
def provider_list(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    providers = visible_providers(session, visitor)
    ids = [p.id for p in providers]
    return page(
        request,
        "providers.html",
        providers=providers,
        stats=provider_stats(session, ids),
        latest=_latest_runs(session, ids),
        may_create=visitor.visible is None
        or any(visitor.may(session, Role.ADMIN, o) for o in visitor.visible),
    )


def provider_of(session: Session, visitor: Visitor, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id) if 0 < provider_id < 2**31 else None
    visible_or_404(session, visitor, provider, "provider")
    assert provider is not None
    return provider


def latest_run(session: Session, provider_id: int) -> CollectionRun | None:
    return session.scalar(
        select(CollectionRun)
        .where(CollectionRun.provider_id == provider_id)
        .order_by(CollectionRun.id.desc())
        .limit(1)
    )


def run_key(run: CollectionRun | None) -> tuple[Any, ...]:
    """What a run's panel shows changes only when this does."""
    if run is None:
        return ()
    return (
        run.id, run.status, run.resources_found, run.resources_created,
        run.resources_updated, run.resources_deleted, run.errors, len(run.log),
    )  # fmt: skip


@router.get("/providers/{provider_id}")
def provider_page(
    request: Request, provider_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    provider = provider_of(session, visitor, provider_id)
    runs = session.scalars(
        select(CollectionRun)
        .where(CollectionRun.provider_id == provider.id)
        .order_by(CollectionRun.id.desc())
        .limit(20)
    ).all()
    schedules = session.scalars(
        select(CollectionSchedule).where(CollectionSchedule.provider_id == provider.id)
    ).all()
    is_admin = visitor.user.is_admin
    resolution = resolve_for(session, provider)
    return page(
        request,
        "provider.html",
        provider=provider,
        resolution=resolution,
        rollback_to=rollback_target(provider, resolution.version),
        pinnable=[
            (v.version, not v.yanked and is_usable(v))
            for v in (ready_versions(session, provider.key) if is_admin else [])
        ],
        may_move=is_admin,
        stat=provider_stats(session, [provider.id])[provider.id],
        run=runs[0] if runs else None,
        runs=runs,
        schedules=schedules,
        may_collect=visitor.may(session, Role.OPERATOR, provider.organization_id),
        may_edit=visitor.may(session, Role.ADMIN, provider.organization_id),
    )


@router.get("/live/providers/{provider_id}")
def provider_live(request: Request, provider_id: int, visitor: LiveVisitor) -> StreamingResponse:
    with request.app.state.context.reads() as session:
        provider_of(session, visitor, provider_id)

    def look(context: Context) -> live.Snapshot:
        with context.reads() as session:
            run = latest_run(session, provider_id)
            key = run_key(run)
            html = fragment("_run_progress.html", run=run)
        return key, run is not None and run.status in ACTIVE, lambda: {"run": html}

    return live.stream(request, look)
