"""The audit log, newest first, for system administrators."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from ...auth.audit import AuditFilter, audit_query
from ...db.models import AuditEntry
from ..deps import AdminUser, SessionDep
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import AuditEntryPublic

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/")
def list_audit_entries(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[AuditEntryPublic]:
    """Who did what to which object, when, from where. ``user`` is a user name or id;
    ``since`` an ISO 8601 time (entries at or after it)."""
    filters = AuditFilter(user, action, object_type, object_id, since)
    query = audit_query(filters)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    return Page(count=count, next=next_url, previous=previous, results=[_public(e) for e in rows])


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        id=entry.id,
        created_at=entry.created_at,
        user=entry.user_id,
        username=entry.username,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        organization=entry.organization_id,
        client=entry.client,
        status=entry.status,
        detail=entry.detail,
    )
