"""Collection runs: status, counters, log; cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import QueryableAttribute

from ...auth.roles import in_visible
from ...db.models import CollectionRun, Provider, User
from ...db.states import Role, RunStatus
from ...inventory.search import like_pattern
from ...jobs.collect import ACTIVE
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, get_in_scope_or_404, one_of
from ..openapi import conflict
from ..ordering import Ordering, order_clauses
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import CollectionRunDetail, CollectionRunPublic

router = APIRouter(prefix="/collection-runs", tags=["collection runs"])

STATUSES = tuple(status.value for status in RunStatus)
COLLECTION_TYPES = ("full", "targeted")
_TRACEBACK = "Traceback (most recent call last):"
_SORTABLE: dict[str, QueryableAttribute[Any]] = {
    "id": CollectionRun.id,
    "status": CollectionRun.status,
    "created_at": CollectionRun.created_at,
    "started_at": CollectionRun.started_at,
    "finished_at": CollectionRun.finished_at,
    "completed_at": CollectionRun.finished_at,
}


def traceback_of(log: str) -> str:
    """The last plugin traceback in a run's log ("" when none): its frames, indented,
    and the exception line that ends them."""
    start = log.rfind(_TRACEBACK)
    if start < 0:
        return ""
    lines = log[start:].splitlines()
    kept = [lines[0]]
    for line in lines[1:]:
        kept.append(line)
        if not line.startswith((" ", "\t")):
            break
    return "\n".join(kept)


def _fields(run: CollectionRun) -> dict[str, object]:
    duration = None
    if run.started_at is not None and run.finished_at is not None:
        duration = (run.finished_at - run.started_at).total_seconds()
    canceled = run.status == RunStatus.CANCELED
    return {
        "id": run.id,
        "provider": run.provider_id,
        "status": run.status,
        "plugin_key": run.plugin_key,
        "plugin_version": run.plugin_version,
        "plugin_sha256": run.plugin_sha256,
        "resources_found": run.resources_found,
        "resources_created": run.resources_created,
        "resources_updated": run.resources_updated,
        "resources_unchanged": run.resources_unchanged,
        "resources_deleted": run.resources_deleted,
        "resources_restored": run.resources_restored,
        "errors": run.errors,
        "error_message": run.error_message,
        "error_details": run.error_details or [],
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": duration,
        "completed_at": run.finished_at,
        "canceled_at": run.finished_at if canceled else None,
        "resources_removed": run.resources_deleted,
        "collector_version": run.plugin_version or "",
        "task_uuid": "",
        # Whoever sees a run sees its log, where the traceback already is (a viewer
        # of its organization: docs/security.md); lists show only such runs.
        "result_traceback": traceback_of(run.log),
        "collection_type": run.collection_type,
        "target_resource_types": run.target_resource_types or [],
        "trigger": run.trigger,
    }


def run_public(run: CollectionRun) -> CollectionRunPublic:
    return CollectionRunPublic.model_validate(_fields(run))


@router.get("/")
def list_runs(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    provider: IdFilter | None = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    collection_type: Annotated[
        str | None, Query(json_schema_extra={"enum": list(COLLECTION_TYPES)})
    ] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the provider's name")
    ] = None,
    ordering: Ordering = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[CollectionRunPublic]:
    order = order_clauses(ordering, _SORTABLE, CollectionRun.id)
    query = select(CollectionRun).order_by(*(order or [CollectionRun.id.desc()]))
    query = query.where(in_visible(CollectionRun.provider_id, visible))
    if provider is not None:
        query = query.where(CollectionRun.provider_id == provider)
    if one_of("status", status, STATUSES) is not None:
        query = query.where(CollectionRun.status == status)
    if one_of("collection_type", collection_type, COLLECTION_TYPES) is not None:
        query = query.where(CollectionRun.collection_type == collection_type)
    if search:
        query = query.where(
            CollectionRun.provider_id.in_(
                select(Provider.id).where(Provider.name.ilike(like_pattern(search), escape="\\"))
            )
        )
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    return Page(
        count=count, next=next_url, previous=previous, results=[run_public(r) for r in rows]
    )


def _get(session: SessionDep, user: User, run_id: int, need: Role = Role.VIEWER) -> CollectionRun:
    return get_in_scope_or_404(session, user, CollectionRun, run_id, "collection run", need=need)


@router.get("/{run_id}/")
def get_run(run_id: int, session: SessionDep, user: CurrentUser) -> CollectionRunDetail:
    run = _get(session, user, run_id)
    return CollectionRunDetail.model_validate({**_fields(run), "log": run.log})


@router.post(
    "/{run_id}/cancel/",
    responses=conflict("The run has finished: only pending or running runs can be canceled"),
)
def cancel_run(run_id: int, session: SessionDep, user: CurrentUser) -> CollectionRunPublic:
    run = _get(session, user, run_id, Role.OPERATOR)
    if run.status not in ACTIVE:
        raise HTTPException(
            409,
            detail=f"collection run {run_id} is {run.status}; only pending or running runs can be canceled",
        )
    run.cancel_requested = True
    if run.status == RunStatus.PENDING:
        run.status = RunStatus.CANCELED
        run.error_message = "canceled by request"
        run.finished_at = datetime.now(UTC)
    session.commit()
    return run_public(run)
