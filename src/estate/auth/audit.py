"""The audit log: who did what to which object, when, and from where.

Entries are written by the API's audit middleware (every state-changing request) and
by authentication (``auth.login``, ``auth.login_failed``). An entry holds names, ids,
a status and a short detail; never a request body, a password or a token.
"""

from __future__ import annotations

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
