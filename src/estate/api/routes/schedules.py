"""Collection schedules of a provider, as the seed service nests them:
``providers/{id}/schedules/`` (CRUD) and ``…/{schedule_id}/trigger/``.

Admins of the provider's organization manage them, operators trigger them, viewers
read them. The scheduler that fires them is jobs/schedule.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import CollectionSchedule, Provider, User
from ...db.states import Role
from ...jobs.schedule import next_run
from ..deps import CurrentUser, ExecutorDep, SessionDep, fits, get_in_scope_or_404
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import CollectionRunPublic
from ..schemas_collect import ScheduleCreate, SchedulePublic, ScheduleUpdate
from .providers import start_collection
from .runs import run_public

router = APIRouter(prefix="/providers", tags=["schedules"])


def schedule_public(schedule: CollectionSchedule) -> SchedulePublic:
    return SchedulePublic(
        id=schedule.id,
        provider=schedule.provider_id,
        name=schedule.name,
        cron_expression=schedule.cron_expression,
        enabled=schedule.enabled,
        last_run_at=schedule.last_run_at,
        last_run=schedule.last_run_id,
        next_run_at=schedule.next_run_at,
        last_skipped_at=schedule.last_skipped_at,
        last_result=schedule.last_result,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def _provider(session: Session, user: User, provider_id: int, need: Role) -> Provider:
    return get_in_scope_or_404(session, user, Provider, provider_id, "provider", need=need)


def _get(
    session: Session, user: User, provider_id: int, schedule_id: int, need: Role = Role.VIEWER
) -> CollectionSchedule:
    provider = _provider(session, user, provider_id, need)
    schedule = session.get(CollectionSchedule, schedule_id) if fits(schedule_id) else None
    if schedule is None or schedule.provider_id != provider.id:
        raise HTTPException(
            404, detail=f"no schedule with id {schedule_id} on provider {provider_id}"
        )
    return schedule


def _plan(schedule: CollectionSchedule) -> None:
    """Set when it fires next: from now, or never while disabled."""
    now = datetime.now(UTC)
    schedule.next_run_at = next_run(schedule.cron_expression, now) if schedule.enabled else None


@router.get("/{provider_id}/schedules/")
def list_schedules(
    provider_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[SchedulePublic]:
    _provider(session, user, provider_id, Role.VIEWER)
    query = (
        select(CollectionSchedule)
        .where(CollectionSchedule.provider_id == provider_id)
        .order_by(CollectionSchedule.name, CollectionSchedule.id)
    )
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [schedule_public(s) for s in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/{provider_id}/schedules/", status_code=status.HTTP_201_CREATED)
def create_schedule(
    provider_id: int, body: ScheduleCreate, session: SessionDep, user: CurrentUser
) -> SchedulePublic:
    provider = _provider(session, user, provider_id, Role.ADMIN)
    schedule = CollectionSchedule(
        provider_id=provider.id,
        name=body.name,
        cron_expression=body.cron_expression,
        enabled=body.enabled,
    )
    _plan(schedule)
    session.add(schedule)
    session.commit()
    return schedule_public(schedule)


@router.get("/{provider_id}/schedules/{schedule_id}/")
def get_schedule(
    provider_id: int, schedule_id: int, session: SessionDep, user: CurrentUser
) -> SchedulePublic:
    return schedule_public(_get(session, user, provider_id, schedule_id))


def _update(
    session: Session, user: User, provider_id: int, schedule_id: int, body: ScheduleUpdate
) -> SchedulePublic:
    schedule = _get(session, user, provider_id, schedule_id, Role.ADMIN)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise HTTPException(400, detail=f"{field}: may not be null")
        setattr(schedule, field, value)
    if "cron_expression" in changes or "enabled" in changes:
        _plan(schedule)
    session.commit()
    return schedule_public(schedule)


@router.patch("/{provider_id}/schedules/{schedule_id}/")
def patch_schedule(
    provider_id: int,
    schedule_id: int,
    body: ScheduleUpdate,
    session: SessionDep,
    user: CurrentUser,
) -> SchedulePublic:
    return _update(session, user, provider_id, schedule_id, body)


@router.put("/{provider_id}/schedules/{schedule_id}/")
def put_schedule(
    provider_id: int,
    schedule_id: int,
    body: ScheduleCreate,
    session: SessionDep,
    user: CurrentUser,
) -> SchedulePublic:
    return _update(session, user, provider_id, schedule_id, ScheduleUpdate(**body.model_dump()))


@router.delete("/{provider_id}/schedules/{schedule_id}/", status_code=204)
def delete_schedule(
    provider_id: int, schedule_id: int, session: SessionDep, user: CurrentUser
) -> Response:
    schedule = _get(session, user, provider_id, schedule_id, Role.ADMIN)
    session.delete(schedule)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{provider_id}/schedules/{schedule_id}/trigger/",
    status_code=status.HTTP_202_ACCEPTED,
    responses=conflict("The provider is disabled or has a pending or running run"),
    description="Start the schedule's collection now (a full one), whatever its cron "
    "expression; its next firing stays as it was.",
)
def trigger_schedule(
    provider_id: int,
    schedule_id: int,
    session: SessionDep,
    executor: ExecutorDep,
    user: CurrentUser,
) -> CollectionRunPublic:
    schedule = _get(session, user, provider_id, schedule_id, Role.OPERATOR)
    provider = schedule.provider
    run = start_collection(session, executor, provider, trigger=f"user:{user.username}")
    return run_public(run)
