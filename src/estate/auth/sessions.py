"""Web UI sessions: a cookie naming a server-side row, revocable at any time.

The cookie holds a random secret; the database holds its sha256 (as for API tokens),
the session's CSRF token, a mark of the user's password hash, and when the session
expires. :func:`session_of` answers None — the browser must log in again — when the
row is gone (logged out), expired, its user deactivated or deleted, or the user's
password changed since the login. Every state-changing request made with the cookie
must carry the CSRF token (:func:`csrf_matches`); a cross-site form cannot read it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..db.models import User, WebSession
from .passwords import token_digest

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "LIFETIME",
    "csrf_matches",
    "end_session",
    "session_of",
    "start_session",
]

COOKIE = "estate_session"
CSRF_HEADER = "x-csrf-token"
LIFETIME = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at: at most one write a minute


def _mark(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()


def start_session(session: Session, user: User) -> tuple[str, WebSession]:
    """A new session of ``user``: the cookie's value (shown this once) and its row.

    Expired sessions of every user are swept here, so the table stays small.
    """
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        user_id=user.id,
        token_hash=token_digest(secret),
        csrf_token=secrets.token_urlsafe(32),
        password_mark=_mark(user),
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    session.commit()
    return secret, row


def session_of(session: Session, cookie: str | None) -> WebSession | None:
    """The live session the cookie names, or None (then the browser logs in again)."""
    if not cookie:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_digest(cookie)))
    if row is None:
        return None
    now = datetime.now(UTC)
    user = row.user
    if row.expires_at <= now or not user.is_active or row.password_mark != _mark(user):
        session.delete(row)
        session.commit()
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return row


def end_session(session: Session, cookie: str | None) -> None:
    """Log out: the cookie's session is deleted (nothing happens for an unknown one)."""
    if cookie:
        session.execute(delete(WebSession).where(WebSession.token_hash == token_digest(cookie)))
        session.commit()


def csrf_matches(row: WebSession, given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token (constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), row.csrf_token.encode())
