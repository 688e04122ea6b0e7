"""Collection schedules: cron expressions, and the scheduler that fires them on time.

The scheduler is a thread of each service process. About once a second
(``settings.schedule_interval``) it reads the enabled schedules whose ``next_run_at``
has come and, for each, in one transaction:

1. holds the provider's row (as ``POST collect/`` does), so a collection a user
   starts at the same moment cannot start beside it;
2. claims the firing with a compare-and-set: ``UPDATE … SET next_run_at = <the next
   one> WHERE id = :id AND next_run_at = :seen``. Of several processes on one
   PostgreSQL database that saw the same due row, exactly one updates it; the others
   update nothing and leave it (SQLite has one writer at a time, and one process);
3. starts a ``CollectionRun`` with ``trigger = "schedule:<id>"``, or, when the
   provider has a run pending or running (or is disabled), records the skip on the
   schedule (``last_skipped_at``, ``last_result``) and logs it. Nothing is queued.

The next firing is computed from *now*, not from the missed one: a schedule missed
while the service was down (or while it was busy) fires once when it is next
looked at, never once per missed tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import CroniterError, croniter  # type: ignore[import-untyped]
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..context import Context
from ..db.models import CollectionRun, CollectionSchedule, Provider
from ..db.states import RunStatus
from .background import Repeating

logger = logging.getLogger(__name__)

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression croniter can run, or None.

    Five fields (minute hour day month weekday), or six with seconds last.
    """
    if not expression.strip():
        return "must not be empty"
    try:
        croniter(expression, datetime.now(UTC))
    except (CroniterError, ValueError, KeyError) as exc:
        return f"{expression!r} is not a valid cron expression: {exc}"
    return None


def next_run(expression: str, after: datetime) -> datetime:
    """The first firing of ``expression`` strictly after ``after`` (UTC)."""
    moment: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return moment.astimezone(UTC)


def behind_schedule(
    session: Session, provider_ids: list[int], now: datetime, late_after: timedelta
) -> list[tuple[CollectionSchedule, str]]:
    """Enabled schedules of these providers that did not run when they should have,
    each with why (at most 50, the latest first).

    - due for longer than ``late_after``: no scheduler fired it (the service was down
      or stopped, or the primary process is busy);
    - its last firing was skipped (the provider had a run in progress, or was
      disabled) and no firing ran since.
    """
    if not provider_ids:
        return []
    late = now - late_after
    rows = session.scalars(
        select(CollectionSchedule)
        .where(
            CollectionSchedule.provider_id.in_(provider_ids),
            CollectionSchedule.enabled.is_(True),
            or_(
                CollectionSchedule.next_run_at < late,
                CollectionSchedule.last_skipped_at > CollectionSchedule.last_run_at,
                CollectionSchedule.last_run_at.is_(None)
                & CollectionSchedule.last_skipped_at.is_not(None),
            ),
        )
        .order_by(CollectionSchedule.id.desc())
        .limit(50)
    ).all()
    found = []
    for schedule in rows:
        due = schedule.next_run_at
        if due is not None and due < late:
            found.append((schedule, f"due since {due:%Y-%m-%d %H:%M:%S} UTC, not fired"))
        else:
            found.append((schedule, schedule.last_result or "its last firing was skipped"))
    return found


def schedule_trigger(schedule_id: int) -> str:
    """The ``trigger`` of a run this schedule started."""
    return f"schedule:{schedule_id}"


def _active_run(session: Session, provider_id: int) -> CollectionRun | None:
    return session.scalar(
        select(CollectionRun).where(
            CollectionRun.provider_id == provider_id, CollectionRun.status.in_(ACTIVE)
        )
    )


def _hold_provider(session: Session, provider_id: int) -> None:
    """A no-op UPDATE of the provider's row: held until commit (see routes/providers.py)."""
    session.execute(
        update(Provider)
        .where(Provider.id == provider_id)
        .values(updated_at=Provider.updated_at)
        .execution_options(synchronize_session=False)
    )


def fire(session: Session, schedule_id: int, seen: datetime, now: datetime) -> int | None:
    """Claim one due firing and start its run; the run's id, or None (skipped or lost).

    Commits. ``seen`` is the ``next_run_at`` the caller read: when another process
    claimed the firing meanwhile, nothing is done.
    """
    schedule = session.get(CollectionSchedule, schedule_id)
    if schedule is None:
        return None
    _hold_provider(session, schedule.provider_id)
    claimed = session.execute(
        update(CollectionSchedule)
        .where(
            CollectionSchedule.id == schedule_id,
            CollectionSchedule.enabled.is_(True),
            CollectionSchedule.next_run_at == seen,
        )
        .values(next_run_at=next_run(schedule.cron_expression, max(now, seen)))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    session.refresh(schedule)
    provider = session.get(Provider, schedule.provider_id)
    running = _active_run(session, schedule.provider_id)
    reason = None
    if provider is None or not provider.enabled:
        reason = "provider is disabled"
    elif running is not None:
        reason = f"collection run {running.id} was {running.status}"
    if reason is not None:
        schedule.last_skipped_at = now
        schedule.last_result = f"skipped at {now:%Y-%m-%d %H:%M:%S} UTC: {reason}"
        session.commit()
        logger.info("schedule %d (%r) skipped: %s", schedule_id, schedule.name, reason)
        return None
    assert provider is not None
    run = CollectionRun(
        provider_id=provider.id, plugin_key=provider.key, trigger=schedule_trigger(schedule_id)
    )
    session.add(run)
    session.flush()
    schedule.last_run_at, schedule.last_run_id = now, run.id
    schedule.last_result = f"started collection run {run.id}"
    session.commit()
    logger.info(
        "schedule %d (%r) started collection run %d of provider %d",
        schedule_id,
        schedule.name,
        run.id,
        provider.id,
    )
    return run.id


def due(session: Session, now: datetime) -> list[tuple[int, datetime]]:
    """``(id, next_run_at)`` of the enabled schedules whose time has come."""
    rows = session.execute(
        select(CollectionSchedule.id, CollectionSchedule.next_run_at)
        .where(CollectionSchedule.enabled.is_(True), CollectionSchedule.next_run_at <= now)
        .order_by(CollectionSchedule.next_run_at)
    ).all()
    return [(row[0], row[1]) for row in rows if row[1] is not None]


class Scheduler(Repeating):
    """The thread that fires due schedules; ``start`` at start-up, ``stop`` at shutdown."""

    name = "estate-scheduler"
    what = "the scheduler's tick"

    def __init__(self, context: Context, submit: Callable[[int], object]) -> None:
        super().__init__(context.settings.schedule_interval, wait_first=True)
        self.context = context
        self.submit = submit

    def step(self) -> bool:
        self.tick()
        return False

    def tick(self) -> list[int]:
        """Fire every due schedule once; the runs started."""
        started = []
        now = datetime.now(UTC)
        with self.context.sessions() as session:
            for schedule_id, seen in due(session, now):
                if self.stopping:
                    break
                run_id = fire(session, schedule_id, seen, now)
                if run_id is not None:
                    started.append(run_id)
                    self.submit(run_id)
        return started
