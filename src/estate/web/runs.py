"""Collection runs: the list, and a run's page with live counters, its log (lines
with their levels), its errors and a cancel button (operators and above)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.roles import in_visible
from ..context import Context
from ..db.models import CollectionRun
from ..db.states import Role
from ..jobs.collect import ACTIVE
from . import live
from .deps import LiveVisitor, PageSession, PageVisitor, Visitor, visible_or_404
from .providers import run_key
from .templating import fragment, page

router = APIRouter(include_in_schema=False)
LOG_LINES = 500  # the page shows the log's last lines; the API has it whole


@router.get("/runs")
def run_list(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    runs = session.scalars(
        select(CollectionRun)
        .where(in_visible(CollectionRun.provider_id, visitor.visible))
        .order_by(CollectionRun.id.desc())
        .limit(100)
    ).all()
    return page(request, "runs.html", runs=runs)


def _run(session: Session, visitor: Visitor, run_id: int) -> CollectionRun:
    run = session.get(CollectionRun, run_id) if 0 < run_id < 2**31 else None
    visible_or_404(session, visitor, run, "collection run")
    assert run is not None
    return run


def _parts(run: CollectionRun, may_cancel: bool) -> dict[str, str]:
    lines = run.log.splitlines()[-LOG_LINES:] if run.log else []
    return {
        "run": fragment("_run_progress.html", run=run),
        "log": fragment("_run_log.html", run=run, lines=lines),
        "controls": fragment("_run_controls.html", run=run, may_cancel=may_cancel),
    }


@router.get("/runs/{run_id}")
def run_page(
    request: Request, run_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    run = _run(session, visitor, run_id)
    may_cancel = visitor.may(session, Role.OPERATOR, run.provider.organization_id)
    return page(request, "run.html", run=run, parts=_parts(run, may_cancel))


@router.get("/live/runs/{run_id}")
def run_live(request: Request, run_id: int, visitor: LiveVisitor) -> StreamingResponse:
    with request.app.state.context.reads() as session:
        run = _run(session, visitor, run_id)
        may_cancel = visitor.may(session, Role.OPERATOR, run.provider.organization_id)

    def look(context: Context) -> live.Snapshot:
        with context.reads() as session:
            run = session.get(CollectionRun, run_id)
            if run is None:
                return None, False, dict
            parts = _parts(run, may_cancel)
            return run_key(run), run.status in ACTIVE, lambda: parts

    return live.stream(request, look)
