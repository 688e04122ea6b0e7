"""Logging in and out of the web UI: the API's accounts, throttle and audit log.

A login is refused like an HTTP Basic one: the throttle counts failures per user name
and client address (auth/throttle.py), every refusal and the first success from a
client are audited. Logging out deletes the session on the server.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from ..auth.audit import LOGIN, LOGIN_FAILED, record
from ..auth.passwords import verify_nobody, verify_password
from ..auth.sessions import COOKIE, LIFETIME, csrf_matches, end_session, session_of, start_session
from ..auth.throttle import Throttle
from ..db.models import User
from .deps import PageError, PageSession
from .templating import page

router = APIRouter(include_in_schema=False)


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another one."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", visitor=None, next=_safe_next(next), error="")


@router.post("/login")
def log_in(
    request: Request,
    session: PageSession,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    throttle: Throttle = request.app.state.throttle
    client = _client(request)

    def refuse(reason: str, status_code: int, message: str, user: User | None = None) -> Response:
        record(
            session, action=LOGIN_FAILED, status=status_code, client=client,
            user_id=user.id if user else None, username=username, object_type="users",
            object_id=str(user.id) if user else None, detail=f"web: {reason}",
        )  # fmt: skip
        session.commit()
        return page(
            request, "login.html", status_code, visitor=None, next=_safe_next(next), error=message
        )

    wait = throttle.retry_after(username, client)
    if wait is not None:
        return refuse(
            f"throttled for {wait} s", 429, f"Too many failed logins: try again in {wait} s."
        )
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_nobody(password)  # the same work as for a real user: time tells nothing
    if user is None or not verify_password(password, user.password_hash) or not user.is_active:
        throttle.failed(username, client)
        return refuse("invalid credentials", 401, "Invalid user name or password.", user)
    if throttle.succeeded(user.id, user.username, client):
        record(
            session, action=LOGIN, status=200, client=client, user_id=user.id,
            username=user.username, object_type="users", object_id=str(user.id), detail="web",
        )  # fmt: skip
    cookie, _ = start_session(session, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, cookie, max_age=int(LIFETIME.total_seconds()), httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
def log_out(
    request: Request, session: PageSession, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    cookie = request.cookies.get(COOKIE)
    row = session_of(session, cookie)
    if row is not None and not csrf_matches(row, csrf):
        raise PageError(403, "CSRF token missing or wrong: reload the page and try again")
    end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
