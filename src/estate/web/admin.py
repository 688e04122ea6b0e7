"""Administration pages: users (system administrators), organizations and their members
with roles (each organization's admins and system administrators), the visitor's own
API tokens (everyone; system administrators also see everyone's), and the audit log
(system administrators). Below the role a page answers 403, as the API would; every
change is a button or form posting to the API (estate.js), which checks and audits it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from ..auth.audit import AuditFilter, audit_query
from ..auth.roles import members_of
from ..db.models import ApiToken, Organization, User
from ..db.states import Role
from .deps import CHECKS, PageError, PageSession, PageVisitor, Visitor, visible_or_404
from .events import MAX_PAGE, one_page
from .templating import page

router = APIRouter(include_in_schema=False, dependencies=CHECKS)
PageNumber = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]
Text = Annotated[str | None, Query(max_length=200)]
ROLES = [role.value for role in Role]


def require_system_admin(visitor: Visitor) -> None:
    if not visitor.user.is_admin:
        raise PageError(403, "this page is for system administrators")


@router.get("/admin")
def admin_index(request: Request, visitor: PageVisitor) -> HTMLResponse:
    return page(request, "admin.html")


@router.get("/admin/users")
def user_list(
    request: Request, session: PageSession, visitor: PageVisitor, number: PageNumber = 1
) -> HTMLResponse:
    require_system_admin(visitor)
    query = select(User).options(selectinload(User.memberships)).order_by(User.id)
    users, has_next = one_page(session, query, number)
    organizations = session.scalars(select(Organization).order_by(Organization.id).limit(200))
    return page(
        request,
        "admin_users.html",
        users=users,
        organizations=list(organizations),
        values={},
        page_number=number,
        has_next=has_next,
    )


def _organization_query(visitor: Visitor) -> Select[Any]:
    query = select(Organization).order_by(Organization.id)
    if visitor.visible is not None:
        query = query.where(Organization.id.in_(visitor.visible))
    return query


@router.get("/admin/organizations")
def organization_list(
    request: Request, session: PageSession, visitor: PageVisitor, number: PageNumber = 1
) -> HTMLResponse:
    if not visitor.manages:
        raise PageError(403, "this page is for organization admins and system administrators")
    organizations, has_next = one_page(session, _organization_query(visitor), number)
    return page(
        request,
        "admin_organizations.html",
        organizations=organizations,
        managed=visitor.managed,
        values={},
        page_number=number,
        has_next=has_next,
    )


@router.get("/admin/organizations/{organization_id}")
def organization_page(
    request: Request, organization_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    found = session.get(Organization, organization_id) if 0 < organization_id < 2**31 else None
    visible_or_404(session, visitor, found, "organization")
    assert found is not None
    if not visitor.may(session, Role.ADMIN, found.id):
        raise PageError(403, f"managing {found.name}'s members needs the admin role in it")
    return page(
        request,
        "admin_organization.html",
        organization=found,
        members=members_of(session, found.id),
        roles=ROLES,
    )


@router.get("/admin/tokens")
def token_list(
    request: Request, session: PageSession, visitor: PageVisitor, number: PageNumber = 1
) -> HTMLResponse:
    mine = session.scalars(
        select(ApiToken).where(ApiToken.user_id == visitor.user.id).order_by(ApiToken.id).limit(200)
    ).all()
    everyone: list[Any] = []
    has_next = False
    if visitor.user.is_admin:
        query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id)
        everyone, has_next = one_page(session, query, number)
    return page(
        request,
        "admin_tokens.html",
        mine=mine,
        everyone=everyone,
        values={},
        page_number=number,
        has_next=has_next,
    )


@router.get("/admin/audit")
def audit_list(
    request: Request,
    session: PageSession,
    visitor: PageVisitor,
    user: Text = None,
    action: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    since: Text = None,
    number: PageNumber = 1,
) -> HTMLResponse:
    require_system_admin(visitor)
    moment = _moment(since)
    filters = AuditFilter(
        user or None, action or None, object_type or None, object_id or None, moment
    )
    entries, has_next = one_page(session, audit_query(filters), number)
    values = {
        "user": user or "",
        "action": action or "",
        "object_type": object_type or "",
        "object_id": object_id or "",
        "since": since or "",
    }
    return page(
        request,
        "admin_audit.html",
        entries=entries,
        values=values,
        page_number=number,
        has_next=has_next,
    )


def _moment(since: str | None) -> datetime | None:
    """``since`` from the form: "" is none; an ISO 8601 time (UTC unless it says); else
    400 naming it."""
    if not since:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise PageError(400, f"since: {since!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
