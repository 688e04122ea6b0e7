"""Failed logins, counted per user name and per client address, with backoff.

After ``max_failures`` failures of one user name (or ``max_failures_per_client`` of
one client address) within ``window`` seconds, that name (or address) is throttled
for ``backoff`` seconds: every attempt is refused, the right password included,
without checking it. Each throttle that follows before the last one has been over
for ``window`` seconds lasts twice as long, up to ``backoff_max``. A successful login
clears its user name's count (never the address's: one good account must not open
the door for guesses at others).

In memory, for one service process; a lock makes it safe for the threads of the
server. The same object tells which successful logins are worth an audit entry:
the first of a (user, client) pair in ``login_note_interval`` seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Settings

_SWEEP_AT = 10_000
"""Tracked names and addresses beyond which idle ones are forgotten."""


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    level: int = 0


@dataclass
class Throttle:
    max_failures: int = 5
    max_failures_per_client: int = 20
    window: float = 300.0
    backoff: float = 30.0
    backoff_max: float = 900.0
    login_note_interval: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _records: dict[tuple[str, str], _Record] = field(default_factory=dict, repr=False)
    _logins: dict[tuple[int, str], float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_client=settings.login_max_failures_per_client,
            window=settings.login_failure_window,
            backoff=settings.login_backoff,
            backoff_max=settings.login_backoff_max,
        )

    def retry_after(self, username: str | None, client: str) -> int | None:
        """Whole seconds until ``username`` and ``client`` may try again; None if now."""
        now = self.clock()
        with self._lock:
            waits = [
                record.blocked_until - now
                for key in self._keys(username, client)
                if (record := self._records.get(key)) is not None
            ]
        wait = max(waits, default=0.0)
        return math.ceil(wait) if wait > 0 else None

    def failed(self, username: str | None, client: str) -> None:
        """Count a refused credential against the user name (when known) and the address."""
        now = self.clock()
        with self._lock:
            if len(self._records) > _SWEEP_AT:
                self._sweep(now)
            for key in self._keys(username, client):
                limit = self.max_failures if key[0] == "user" else self.max_failures_per_client
                self._count(self._records.setdefault(key, _Record()), limit, now)

    def succeeded(self, user_id: int, username: str, client: str) -> bool:
        """Clear the user name's failures; tell whether this login is worth noting
        (the first of this user from this client in ``login_note_interval``)."""
        now = self.clock()
        with self._lock:
            record = self._records.get(("user", username))
            if record is not None:
                record.failures.clear()
                record.level = 0
            last = self._logins.get((user_id, client))
            if last is not None and now - last < self.login_note_interval:
                return False
            if len(self._logins) > _SWEEP_AT:
                self._logins.clear()
            self._logins[(user_id, client)] = now
            return True

    def _keys(self, username: str | None, client: str) -> list[tuple[str, str]]:
        keys = [("client", client)]
        if username is not None:
            keys.append(("user", username))
        return keys

    def _count(self, record: _Record, limit: int, now: float) -> None:
        if record.level and now - record.blocked_until > self.window:
            record.level = 0  # quiet for a whole window since the last throttle
        record.failures = [t for t in record.failures if now - t < self.window]
        record.failures.append(now)
        if len(record.failures) >= limit:
            record.blocked_until = now + min(
                self.backoff * 2 ** min(record.level, 32), self.backoff_max
            )
            record.level += 1
            record.failures.clear()

    def _sweep(self, now: float) -> None:
        idle = [
            key
            for key, record in self._records.items()
            if now - record.blocked_until > self.window
            and all(now - t >= self.window for t in record.failures)
        ]
        for key in idle:
            del self._records[key]
