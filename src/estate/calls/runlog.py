"""A job's log: timestamped, levelled lines, bounded in size, with secrets masked."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..redaction import escaped, mask, maskable

MAX_LINES = 2000
MAX_LINE_CHARS = 2000


class RunLog:
    """Keeps the newest ``MAX_LINES`` lines; thread-safe (plugin output pumps write too)."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=MAX_LINES)
        self._secrets: tuple[str, ...] = ()
        self._values: list[Any] = []
        self._lock = threading.Lock()
        self.dropped = 0

    def redact(self, values: Iterable[Any]) -> None:
        """Mask these values (as well as those given before) wherever they appear in
        later lines: a provider's secrets, and an action's secret parameters."""
        self._values.extend(values)
        self._secrets = maskable(self._values)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values this log masks."""
        return self._secrets

    def mask(self, text: str) -> str:
        """``text`` ready to store: every registered secret replaced by ``***``, and
        NUL characters escaped (PostgreSQL refuses them in text; a plugin printing or
        raising one must not wedge its run)."""
        return escaped(mask(text, self._secrets))

    def add(self, level: str, line: str) -> None:
        line = self.mask(line)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = f"{stamp} [{level}] {line[:MAX_LINE_CHARS]}"
        with self._lock:
            if len(self._lines) == MAX_LINES:
                self.dropped += 1
            self._lines.append(entry)

    def text(self) -> str:
        with self._lock:
            lines = list(self._lines)
        if self.dropped:
            lines.insert(0, f"... {self.dropped} earlier line(s) dropped")
        return "\n".join(lines)
