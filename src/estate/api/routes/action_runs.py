"""Action runs: what was asked of a plugin, by whom, and how it ended; cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.roles import in_visible
from ...db.models import ActionRun, User
from ...db.states import Role, RunStatus
from ...db.storable import INT_MAX
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, get_in_scope_or_404, one_of
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas_actions import ActionRunDetail, ActionRunPublic

router = APIRouter(prefix="/action-runs", tags=["action runs"])

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)
STATUSES = ("pending", "running", "completed", "failed", "canceled")
ResourceFilter = Annotated[int, Query(ge=1, le=INT_MAX, description="A resource id")]


def action_run_public(run: ActionRun) -> ActionRunPublic:
    return ActionRunPublic.model_validate(_fields(run))


def _fields(run: ActionRun) -> dict[str, object]:
    return {
        "id": run.id,
        "provider": run.provider_id,
        "resource": run.resource_id,
        "ems_ref": run.ems_ref,
        "action": run.action,
        "parameters": run.parameters or {},
        "status": run.status,
        "result": run.result,
        "error": run.error,
        "error_kind": run.error_kind,
        "requested_by": run.requested_by,
        "refresh_run": run.refresh_run_id,
        "plugin_version": run.plugin_version,
        "plugin_sha256": run.plugin_sha256,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


@router.get("/")
def list_action_runs(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    provider: IdFilter | None = None,
    resource: ResourceFilter | None = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    action: Annotated[str | None, Query(max_length=100, description="An action name")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ActionRunPublic]:
    """Action runs of the organizations the caller can see, newest first."""
    query = select(ActionRun).order_by(ActionRun.id.desc())
    query = query.where(in_visible(ActionRun.provider_id, visible))
    if provider is not None:
        query = query.where(ActionRun.provider_id == provider)
    if resource is not None:
        query = query.where(ActionRun.resource_id == resource)
    if one_of("status", status, STATUSES) is not None:
        query = query.where(ActionRun.status == status)
    if action is not None:
        query = query.where(ActionRun.action == action)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    return Page(
        count=count, next=next_url, previous=previous, results=[action_run_public(r) for r in rows]
    )


def _get(session: Session, user: User, run_id: int, need: Role = Role.VIEWER) -> ActionRun:
    return get_in_scope_or_404(session, user, ActionRun, run_id, "action run", need=need)


@router.get("/{action_run_id}/")
def get_action_run(action_run_id: int, session: SessionDep, user: CurrentUser) -> ActionRunDetail:
    """One action run with its log (the plugin's lines, secrets masked)."""
    run = _get(session, user, action_run_id)
    return ActionRunDetail.model_validate({**_fields(run), "log": run.log})


@router.post(
    "/{action_run_id}/cancel/",
    responses=conflict("The run has finished: only pending or running runs can be canceled"),
)
def cancel_action_run(
    action_run_id: int, session: SessionDep, user: CurrentUser
) -> ActionRunPublic:
    """Cancel a pending run, or ask the plugin to stop a running one (``$/cancel``)."""
    run = _get(session, user, action_run_id, Role.OPERATOR)
    if run.status not in ACTIVE:
        raise HTTPException(
            409,
            detail=f"action run {action_run_id} is {run.status}; only pending or running runs "
            "can be canceled",
        )
    run.cancel_requested = True
    if run.status == RunStatus.PENDING:
        run.status = RunStatus.CANCELED
        run.error = "canceled by request"
        run.finished_at = datetime.now(UTC)
    session.commit()
    return action_run_public(run)
