"""The audit log: who did what to which object, when, and from where.

Entries are written by the API's audit middleware (every state-changing request) and
by authentication (``auth.login``, ``auth.login_failed``). An entry holds names, ids,
a status and a short detail; never a request body, a password or a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..db.models import AuditEntry
from ..redaction import escaped

DETAIL_LENGTH = 200

LOGIN = "auth.login"
LOGIN_FAILED = "auth.login_failed"


def record(
    session: Session,
    *,
    action: str,
    status: int,
    client: str,
    user_id: int | None = None,
    username: str = "",
    object_type: str = "",
    object_id: str | None = None,
    organization_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    """Add one entry to ``session`` (the caller commits)."""
    entry = AuditEntry(
        action=action[:100],
        status=status,
        client=client[:100],
        user_id=user_id,
        username=escaped(username)[:150],
        object_type=object_type[:100],
        object_id=None if object_id is None else escaped(object_id)[:200],
        organization_id=organization_id,
        detail=escaped(detail)[:DETAIL_LENGTH],
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log is narrowed to: ``user`` is a user name or id; ``since`` keeps
    entries at or after it."""

    user: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None


def audit_query(filters: AuditFilter) -> Select[Any]:
    """The audit log, newest first, narrowed by ``filters``."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if filters.user is not None:
        by_id = filters.user.isdigit() and int(filters.user) < 2**31
        query = query.where(
            AuditEntry.user_id == int(filters.user)
            if by_id
            else AuditEntry.username == filters.user
        )
    if filters.action is not None:
        query = query.where(AuditEntry.action == filters.action)
    if filters.object_type is not None:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id is not None:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.since is not None:
        query = query.where(AuditEntry.created_at >= filters.since)
    return query
