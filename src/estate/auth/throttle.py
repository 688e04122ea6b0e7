"""Failed logins, counted per user name and per client address, with backoff.

After ``max_failures`` failures of one user name (or ``max_failures_per_client`` of
one client address) within ``window`` seconds, that name (or address) is throttled
for ``backoff`` seconds: every attempt is refused, the right password included,
without checking it. Each throttle that follows before the last one has been over
for ``window`` seconds lasts twice as long, up to ``backoff_max``. A successful login
clears its user name's count (never the address's: one good account must not open
the door for guesses at others).

The counts and the throttles live in the database (``login_failures``,
``login_blocks``), so every service process — ``estate serve --workers N``, or
several hosts on one PostgreSQL — counts every failure and honours every throttle.
What that costs a request:

- a password attempt (HTTP Basic, the web UI's form, a password change) reads the
  throttles of its name and address from the database: one primary-key query beside
  a password hash that costs far more;
- a token attempt reads this process's copy of the throttled addresses, at most
  ``SNAPSHOT_SECONDS`` old (a token is not guessable; its address's throttle is
  the guard against a flood of bad ones);
- a refusal writes its failures and, at the limit, the throttle, in one transaction;
- a success writes only when the name has failures to clear (known from the same
  copy), so an authenticated request writes nothing.

The same object tells which successful logins are worth an audit entry: the first of
a (user, client) pair in ``login_note_interval`` seconds — in memory, per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..db.models import LoginBlock, LoginFailure

SNAPSHOT_SECONDS = 1.0
"""How old this process's copy of the throttles may be for a token attempt."""
_NOTES_KEPT = 10_000
"""Remembered (user, client) login notes beyond which they are forgotten."""
_NAME_LENGTH = 200

Key = tuple[str, str]


@dataclass
class _Snapshot:
    """What the database said a moment ago: throttles and names with failures."""

    taken: float = -math.inf
    blocked: dict[Key, float] = field(default_factory=dict)
    failing_users: frozenset[str] = frozenset()


@dataclass
class Throttle:
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]
    """For the lookups alone: sessions that open no transaction (``Context.reads``)."""
    max_failures: int = 5
    max_failures_per_client: int = 20
    window: float = 300.0
    backoff: float = 30.0
    backoff_max: float = 900.0
    login_note_interval: float = 3600.0
    clock: Callable[[], float] = time.time
    _snapshot: _Snapshot = field(default_factory=_Snapshot, repr=False)
    _logins: dict[tuple[int, str], float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: sessionmaker[Session], reads: sessionmaker[Session]
    ) -> Throttle:
        return cls(
            sessions=sessions,
            reads=reads,
            max_failures=settings.login_max_failures,
            max_failures_per_client=settings.login_max_failures_per_client,
            window=settings.login_failure_window,
            backoff=settings.login_backoff,
            backoff_max=settings.login_backoff_max,
        )

    def retry_after(self, username: str | None, client: str) -> int | None:
        """Whole seconds until ``username`` and ``client`` may try again; None if now.

        With a user name (a password attempt) the database is asked; without one (a
        token) this process's copy of the throttles is.
        """
        now = self.clock()
        keys = _keys(username, client)
        if username is not None:
            with self.reads() as session:
                until = session.scalars(
                    select(LoginBlock.blocked_until).where(
                        tuple_(LoginBlock.kind, LoginBlock.name).in_(keys),
                        LoginBlock.blocked_until > now,
                    )
                ).all()
        else:
            blocked = self._fresh(now).blocked
            until = [blocked[key] for key in keys if key in blocked]
        wait = max(until, default=now) - now
        return math.ceil(wait) if wait > 0 else None

    def failed(self, username: str | None, client: str) -> None:
        """Count a refused credential against the user name (when known) and the
        address; throttle what reached its limit."""
        now = self.clock()
        keys = _keys(username, client)
        with self.sessions() as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
            session.execute(
                delete(LoginBlock).where(
                    LoginBlock.blocked_until < now - self.window - self.backoff_max
                )
            )
            session.add_all(LoginFailure(kind=kind, name=name, at=now) for kind, name in keys)
            session.flush()
            for key in keys:
                self._maybe_block(session, key, now)
        with self._lock:
            if username is not None:
                users = self._snapshot.failing_users | {_name(username)}
                self._snapshot.failing_users = users
            self._snapshot.taken = -math.inf  # the next token attempt looks again

    def succeeded(self, user_id: int, username: str, client: str) -> bool:
        """Clear the user name's failures; tell whether this login is worth noting
        (the first of this user from this client in ``login_note_interval``)."""
        now = self.clock()
        key = ("user", _name(username))
        if key[1] in self._fresh(now).failing_users:
            with self.sessions() as session, session.begin():
                session.execute(
                    delete(LoginFailure).where(
                        LoginFailure.kind == key[0], LoginFailure.name == key[1]
                    )
                )
                block = session.get(LoginBlock, key)
                if block is not None:
                    block.level = 0
            with self._lock:
                self._snapshot.failing_users = self._snapshot.failing_users - {key[1]}
        with self._lock:
            last = self._logins.get((user_id, client))
            if last is not None and now - last < self.login_note_interval:
                return False
            if len(self._logins) > _NOTES_KEPT:
                self._logins.clear()
            self._logins[(user_id, client)] = now
            return True

    def _maybe_block(self, session: Session, key: Key, now: float) -> None:
        kind, name = key
        limit = self.max_failures if kind == "user" else self.max_failures_per_client
        count = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(
                LoginFailure.kind == kind,
                LoginFailure.name == name,
                LoginFailure.at > now - self.window,
            )
        )
        if (count or 0) < limit:
            return
        block = session.get(LoginBlock, key, with_for_update=True)
        if block is None:
            block = LoginBlock(kind=kind, name=name, blocked_until=now, level=0)
            session.add(block)
        elif block.level and now - block.blocked_until > self.window:
            block.level = 0  # quiet for a whole window since the last throttle
        block.blocked_until = now + min(self.backoff * 2 ** min(block.level, 32), self.backoff_max)
        block.level += 1
        session.execute(
            delete(LoginFailure).where(LoginFailure.kind == kind, LoginFailure.name == name)
        )

    def _fresh(self, now: float) -> _Snapshot:
        """This process's copy of the throttles, read again when older than a second."""
        with self._lock:
            if now - self._snapshot.taken < SNAPSHOT_SECONDS:
                return self._snapshot
        with self.reads() as session:
            blocked = {
                (kind, name): until
                for kind, name, until in session.execute(
                    select(LoginBlock.kind, LoginBlock.name, LoginBlock.blocked_until).where(
                        LoginBlock.blocked_until > now
                    )
                )
            }
            failing = frozenset(
                session.scalars(
                    select(LoginFailure.name)
                    .where(LoginFailure.kind == "user", LoginFailure.at > now - self.window)
                    .distinct()
                )
            ) | frozenset(
                session.scalars(
                    select(LoginBlock.name).where(LoginBlock.kind == "user", LoginBlock.level > 0)
                )
            )
        snapshot = _Snapshot(taken=now, blocked=blocked, failing_users=failing)
        with self._lock:
            self._snapshot = snapshot
        return snapshot


def _name(value: str) -> str:
    return value[:_NAME_LENGTH]


def _keys(username: str | None, client: str) -> list[Key]:
    keys = [("client", _name(client))]
    if username is not None:
        keys.append(("user", _name(username)))
    return keys
