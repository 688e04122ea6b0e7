"""First-start and every-start chores: schema, default organization, admin, plugins."""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from .auth.passwords import hash_password, new_password, verify_password
from .context import Context
from .db.migrate import upgrade
from .db.models import (
    ActionRun,
    CollectionRun,
    ConformanceRun,
    Organization,
    PluginVersion,
    User,
)
from .db.states import RunStatus, VersionSource, VersionState
from .inventory.ingest import link_new
from .registry.install import define_recorded
from .registry.integrity import list_unlisted
from .registry.managed import register_managed, remove_unreferenced
from .runtime.confinement import confinement_of, sweep

logger = logging.getLogger(__name__)

DEFAULT_ORGANIZATION = "Default"
PASSWORD_FILE = "admin_password"


@dataclass
class AdminLogin:
    """How the admin logs in; ``is_generated`` only at the start that made the password."""

    username: str
    password: str | None
    source: str
    is_generated: bool = False


def prepare(context: Context) -> AdminLogin:
    """Migrate, make sure the default organization and the admin exist, load plugins."""
    upgrade(context.engine)
    with context.sessions() as session:
        if session.get(Organization, 1) is None:
            session.add(
                Organization(id=1, name=DEFAULT_ORGANIZATION, description="Created at first start")
            )
            session.flush()
            if context.engine.dialect.name == "postgresql":
                # An explicit id does not advance the sequence; the next one would clash.
                session.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('organizations', 'id'), "
                        "(SELECT max(id) FROM organizations))"
                    )
                )
            session.commit()
        login = _ensure_admin(context)
        register_managed(session, context.settings, context.box)
        list_unlisted(session)
        remove_unreferenced(session, context.settings)
        define_recorded(session, context.settings)
    swept = sweep(confinement_of(context.settings))
    if swept:
        logger.info("removed %d scratch folder(s) or cgroup(s) plugin processes left", swept)
    # What start-up loaded lives as long as the process: keep it out of every GC
    # pass, which otherwise dominates the cost of ingesting large batches.
    gc.freeze()
    return login


def _ensure_admin(context: Context) -> AdminLogin:
    settings = context.settings
    username = settings.admin_username
    path = settings.resolved_data_dir / PASSWORD_FILE
    with context.sessions() as session:
        admin = session.scalar(select(User).where(User.username == username))
        is_generated = False
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
            source = "from ESTATE_ADMIN_PASSWORD"
        elif admin is None:
            password = new_password()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
            source = f"generated, saved in {path}"
            is_generated = True
        else:
            # Printed once, by the start that generated it: later starts say where it is.
            return AdminLogin(username, None, f"in {path}" if path.is_file() else "unchanged")
        if admin is None:
            session.add(
                User(
                    username=username,
                    password_hash=hash_password(password),
                    is_admin=True,
                    organization_id=1,
                )
            )
        elif not verify_password(password, admin.password_hash):
            admin.password_hash = hash_password(password)
        session.commit()
    return AdminLogin(username, password, source, is_generated)


def recover_runs(context: Context) -> list[int]:
    """Work a stopped service left behind: running runs and versions being prepared
    fail; pending runs are returned to be submitted again."""
    with context.sessions() as session, session.begin():
        stopped = session.execute(
            select(CollectionRun.provider_id, CollectionRun.id).where(
                CollectionRun.status == RunStatus.RUNNING
            )
        ).all()
        session.execute(
            update(CollectionRun)
            .where(CollectionRun.status == RunStatus.RUNNING)
            .values(
                status=RunStatus.FAILED,
                error_message="the service stopped during this run; collect again",
                finished_at=datetime.now(UTC),
            )
        )
        pending = session.scalars(
            select(CollectionRun.id).where(CollectionRun.status == RunStatus.PENDING)
        ).all()
        # A conformance run acts on its provider's platform: never run again unasked.
        session.execute(
            update(ConformanceRun)
            .where(ConformanceRun.status.in_((RunStatus.PENDING, RunStatus.RUNNING)))
            .values(
                status=RunStatus.FAILED,
                error="the service stopped during this conformance run; run it again",
                finished_at=datetime.now(UTC),
            )
        )
        # An action is not run again unasked: it may not be idempotent.
        session.execute(
            update(ActionRun)
            .where(ActionRun.status.in_((RunStatus.PENDING, RunStatus.RUNNING)))
            .values(
                status=RunStatus.FAILED,
                error="the service stopped before this action ended; check the resource "
                "and run it again if needed",
                finished_at=datetime.now(UTC),
            )
        )
        session.execute(
            update(PluginVersion)
            .where(
                PluginVersion.state == VersionState.PREPARING,
                # Built-in ones are prepared again by this start (preparing_versions).
                PluginVersion.source != VersionSource.MANAGED,
            )
            .values(
                state=VersionState.FAILED,
                error="the service stopped while this version was being prepared; upload it again",
            )
        )
    # What those runs stored is kept (as after any failed run): complete the reverse
    # relationship index that their end would have written.
    for provider_id, run_id in stopped:
        link_new(context.engine, provider_id, run_id, replace=True)
    return list(pending)
