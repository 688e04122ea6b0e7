"""Who is looking at a page: the session cookie's user, their organizations and roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ..auth import roles
from ..auth.sessions import COOKIE, session_of
from ..context import Context
from ..db.models import Base, User
from ..db.states import Role
from ..logs import ACCESS_USER
from ..request_checks import refuse_unknown_parameters, refuse_unstorable_parameters
from ..request_sessions import request_session

CHECKS = [Depends(refuse_unstorable_parameters), Depends(refuse_unknown_parameters)]
"""A page router's checks of its query: a NUL character or a misspelt filter is a 400
page naming it, as the API answers them."""


class LoginRequired(Exception):
    """No live session: the page answers with a redirect to /login."""


class PageError(Exception):
    """A page that cannot be shown: 404 (not there, or not visible) or 403."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


PageSession = Annotated[Session, Depends(request_session)]
"""The page's session (``request_sessions.py``: a read's opens no transaction)."""


@dataclass
class Visitor:
    """The logged-in user of a page request."""

    user: User
    csrf: str
    visible: frozenset[int] | None  # the organizations they see; None: all
    managed: frozenset[int] | None  # the organizations whose members they manage; None: all
    _roles: dict[int, Role | None] = field(default_factory=dict)

    def may(self, session: Session, need: Role, organization_id: int | None) -> bool:
        """Whether the page may offer what needs ``need`` there (the API checks again)."""
        if self.user.is_admin:
            return True
        if organization_id is None:
            return False
        if organization_id not in self._roles:
            self._roles[organization_id] = roles.role_in(session, self.user, organization_id)
        role = self._roles[organization_id]
        return role is not None and role.covers(need)

    @property
    def manages(self) -> bool:
        """Whether any administration page is theirs (the nav offers "Admin")."""
        return self.managed is None or bool(self.managed)


def get_visitor(request: Request, session: PageSession) -> Visitor:
    row = session_of(session, request.cookies.get(COOKIE))
    if row is None:
        raise LoginRequired
    visitor = Visitor(
        row.user,
        row.csrf_token,
        roles.visible_organizations(session, row.user),
        roles.administered_organizations(session, row.user),
    )
    request.state.visitor = visitor
    setattr(request.state, ACCESS_USER, row.user.username)  # for the access log
    return visitor


PageVisitor = Annotated[Visitor, Depends(get_visitor)]


def visible_or_404(session: Session, visitor: Visitor, row: Base | None, noun: str) -> None:
    """404 for a row that is not there or whose organization the visitor cannot see."""
    if row is None:
        raise PageError(404, f"no such {noun}")
    if visitor.visible is None:
        return
    if roles.organization_of(session, row) not in visitor.visible:
        raise PageError(404, f"no such {noun}")


def get_live_visitor(request: Request) -> Visitor:
    """The visitor of an event stream, read with a session closed at once: a stream
    lasts minutes and must not hold a database connection meanwhile."""
    context: Context = request.app.state.context
    with context.reads() as session:
        return get_visitor(request, session)


LiveVisitor = Annotated[Visitor, Depends(get_live_visitor)]
