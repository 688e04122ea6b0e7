"""Dependencies of the routes, as ``Annotated`` aliases.

A dependency that does no I/O is ``async def``: FastAPI runs a plain ``def`` one in a
worker thread, and each such hop costs ~90 µs of CPU (a request made a dozen of them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..auth import roles
from ..auth.audit import LOGIN, LOGIN_FAILED, record
from ..auth.passwords import TOKEN_PREFIX, token_digest, verify_nobody, verify_password
from ..auth.sessions import COOKIE, CSRF_HEADER, csrf_matches, session_of
from ..auth.throttle import Throttle
from ..context import Context
from ..db.models import ApiToken, Base, Organization, User
from ..db.states import Role
from ..jobs.forward import Submitter
from ..request_sessions import SAFE_METHODS, request_session
from .access import USER_KEY, client_of
from .audit_log import USER_ID_KEY


def one_of(name: str, value: str | None, allowed: Collection[str]) -> str | None:
    """``value`` when it is one of ``allowed`` (or None); else a 400 listing them."""
    if value is not None and value not in allowed:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"{name}: {value!r} is not one of {', '.join(allowed)}",
        )
    return value


async def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


async def get_executor(request: Request) -> Submitter:
    """The process's executor: the local one, or in an API worker one that forwards
    jobs to the primary process (jobs/forward.py)."""
    executor: Submitter = request.app.state.executor
    return executor


ContextDep = Annotated[Context, Depends(get_context)]
ExecutorDep = Annotated[Submitter, Depends(get_executor)]
SessionDep = Annotated[Session, Depends(request_session)]
"""The request's session (``request_sessions.py``: a read's opens no transaction)."""

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="estate", Bearer'}


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers=_CHALLENGE)


async def get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


def client_address(request: Request) -> str:
    return client_of(request.scope)


def too_many_failures(wait: int) -> HTTPException:
    """The 429 of a user name or client address throttled for failed logins."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many failed logins: try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def get_current_user(request: Request, session: SessionDep, throttle: ThrottleDep) -> User:
    """The user the request's credentials name; 401 for none or bad ones, 429 while
    the user name or the client address is throttled for failed logins."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if not header and COOKIE in request.cookies:
        return _cookie_user(request, session)
    if scheme not in ("basic", "bearer", "token"):
        raise _unauthorized("authentication required: use HTTP Basic or a bearer token")
    attempt = _Attempt(session, throttle, client_address(request))
    if scheme == "basic":
        user = _basic_user(attempt, value.strip())
    else:
        user = _token_user(attempt, value.strip())
    if throttle.succeeded(user.id, user.username, attempt.client):
        record(
            session, action=LOGIN, status=200, client=attempt.client, user_id=user.id,
            username=user.username, object_type="users", object_id=str(user.id),
            detail=f"by {'password' if scheme == 'basic' else 'token'}",
        )  # fmt: skip
        session.commit()
    setattr(request.state, USER_KEY, user.username)  # for the access log
    setattr(request.state, USER_ID_KEY, user.id)  # for the audit log
    return user


def _cookie_user(request: Request, session: Session) -> User:
    """The user of the web UI's session cookie: the UI's buttons call this API.

    A state-changing request must carry the session's CSRF token in a header, which
    a page of another site cannot read nor set: 403 without it.
    """
    row = session_of(session, request.cookies.get(COOKIE))
    if row is None:
        raise _unauthorized("session expired or ended: log in again")
    if request.method not in SAFE_METHODS and not csrf_matches(
        row, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"CSRF token missing or wrong: send the page's token in {CSRF_HEADER}",
        )
    user = row.user
    setattr(request.state, USER_KEY, user.username)  # for the access log
    setattr(request.state, USER_ID_KEY, user.id)  # for the audit log
    return user


class _Attempt:
    """One request's try at logging in: refusals are counted, audited and answered."""

    def __init__(self, session: Session, throttle: Throttle, client: str) -> None:
        self.session, self.throttle, self.client = session, throttle, client

    def check(self, username: str | None) -> None:
        """429 while ``username`` or the client is throttled (the right password too)."""
        wait = self.throttle.retry_after(username, self.client)
        if wait is not None:
            self._audit(username, None, f"throttled for {wait} s", 429)
            raise too_many_failures(wait)

    def refuse(
        self, username: str | None, user: User | None, reason: str, answer: str
    ) -> HTTPException:
        self.throttle.failed(username, self.client)
        self._audit(username or (user.username if user else None), user, reason, 401)
        return _unauthorized(answer)

    def _audit(self, username: str | None, user: User | None, detail: str, code: int) -> None:
        record(
            self.session, action=LOGIN_FAILED, status=code, client=self.client,
            user_id=user.id if user else None, username=username or "",
            object_type="users", object_id=str(user.id) if user else None, detail=detail,
        )  # fmt: skip
        self.session.commit()


def _basic_user(attempt: _Attempt, value: str) -> User:
    try:
        username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        attempt.check(None)
        raise attempt.refuse(
            None, None, "malformed Basic credentials", "malformed Basic credentials"
        ) from None
    attempt.check(username)
    user = attempt.session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_nobody(password)  # the same work as for a real user: time tells nothing
        raise attempt.refuse(username, None, "unknown user", "invalid credentials")
    if not verify_password(password, user.password_hash):
        raise attempt.refuse(username, user, "wrong password", "invalid credentials")
    if not user.is_active:
        raise attempt.refuse(username, user, "deactivated user", "invalid credentials")
    return user


# The token and its user in one query (a second one for token.user cost more than
# hashing the token), built once: every request but a password's runs it.
_TOKEN_AND_USER = (
    select(ApiToken, User)
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def _token_user(attempt: _Attempt, value: str) -> User:
    attempt.check(None)
    found = None
    if value.startswith(TOKEN_PREFIX):
        found = attempt.session.execute(_TOKEN_AND_USER, {"digest": token_digest(value)}).first()
    if found is None:
        raise attempt.refuse(None, None, "unknown token", "invalid credentials")
    token, user = found
    now = datetime.now(UTC)
    # A known token that expired or whose user was deactivated is no guess: it counts
    # against the client only, never against the user's name.
    if token.expires_at <= now:
        raise attempt.refuse(None, user, f"token {token.id} expired", "token expired")
    if not user.is_active:
        raise attempt.refuse(
            None, user, f"token {token.id} of a deactivated user", "invalid credentials"
        )
    last = token.last_used_at
    if last is None or (now - last).total_seconds() > 60:  # avoid a write per request
        token.last_used_at = now
        attempt.session.commit()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs a system administrator")
    return user


AdminUser = Annotated[User, Depends(get_admin)]

# Ids are 32-bit integers on PostgreSQL (resources and their history 64-bit); a bigger
# number would make the database raise, so it is answered before any query is sent.
INT32_MAX = 2**31 - 1
IdFilter = Annotated[int, Query(ge=1, le=INT32_MAX, description="An id")]

Row = TypeVar("Row", bound=Base)


def fits(object_id: int, limit: int = INT32_MAX) -> bool:
    """Tell whether ``object_id`` can be an id at all (positive, within the column)."""
    return 0 < object_id <= limit


def get_or_404(
    session: Session, model: type[Row], object_id: int, noun: str, *, limit: int = INT32_MAX
) -> Row:
    """The ``model`` row with this id, or a 404 ``no <noun> with id <id>``."""
    row = session.get(model, object_id) if fits(object_id, limit) else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {noun} with id {object_id}")
    return row


async def get_visible(session: SessionDep, user: CurrentUser) -> frozenset[int] | None:
    """The organizations the caller can see (None: all, a system administrator);
    every list is filtered to them. A system administrator's answer needs no query,
    so no hop to a worker thread either."""
    if user.is_admin:
        return None
    return await run_in_threadpool(roles.visible_organizations, session, user)


Visible = Annotated[frozenset[int] | None, Depends(get_visible)]


def _role_refused(need: Role, organization_id: int | None) -> HTTPException:
    where = f"organization {organization_id}" if organization_id is not None else "it"
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the {need} role in {where}")


def require_role(session: Session, user: User, organization_id: int, need: Role) -> None:
    """400 ``organization: no organization with id N`` when the organization named in a
    body does not exist or is not visible to ``user``; 403 when ``user``'s role there
    is below ``need``."""
    exists = fits(organization_id) and session.get(Organization, organization_id) is not None
    role = roles.role_in(session, user, organization_id) if exists else None
    if role is None:
        raise HTTPException(400, detail=f"organization: no organization with id {organization_id}")
    if not role.covers(need):
        raise _role_refused(need, organization_id)


def get_in_scope_or_404(
    session: Session,
    user: User,
    model: type[Row],
    object_id: int,
    noun: str,
    *,
    need: Role = Role.VIEWER,
    limit: int = INT32_MAX,
) -> Row:
    """The ``model`` row with this id when ``user`` may do what needs ``need`` to it.

    404 ``no <noun> with id <id>`` when it does not exist or its organization is not
    visible to ``user`` (an outsider learns nothing of it); 403 when it is visible but
    ``user``'s role there is below ``need``.
    """
    row = get_or_404(session, model, object_id, noun, limit=limit)
    if user.is_admin:
        return row
    organization_id = roles.organization_of(session, row)
    role = None if organization_id is None else roles.role_in(session, user, organization_id)
    if role is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {noun} with id {object_id}")
    if not role.covers(need):
        raise _role_refused(need, organization_id)
    return row
