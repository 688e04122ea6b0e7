"""The plugin processes of every ``estate serve`` process on this host, on one board.

With ``estate serve --workers N`` each API process has a supervisor of its own: a
connection test, the actions a provider offers or a plugin's API route start a
long-lived plugin process in whichever process answered the request. So that
``GET plugin-processes/`` (and the plugins page) show them all whichever process
answers, each process writes its supervisor's status to a file of its own,
``<data>/run/plugin-processes/<pid>.json``, whenever it changed (looked at every
second; a quiet process writes nothing), and a reader merges its own live status with
the files of the other processes. A file whose process is gone is removed by the next
reader (a worker killed without a goodbye); a process whose file went missing (the
primary clears the board at its start) writes it again.

Times are stored as wall-clock instants (when last used, until when in backoff or
broken) and turned back into durations when read, so a status that only aged is not
written again. The board is per host: processes on another host sharing a PostgreSQL
database have their own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..runtime.supervisor import Supervisor
from .background import Repeating

logger = logging.getLogger(__name__)

BOARD_DIR = Path("run") / "plugin-processes"
"""Under the data directory; plugin processes cannot read it (confinement)."""

_DURATIONS = {
    "idle_seconds": "used_at",
    "retry_in": "retry_until",
    "breaker_open_for": "broken_until",
}
"""A duration of ``Supervisor.status`` → the instant it is stored as (idle counts back)."""


def stamped(entries: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """``Supervisor.status`` entries as stored: JSON-ready, durations as instants
    (rounded to 0.1 s, so a status that only aged compares equal)."""
    out = []
    for entry in entries:
        row = {k: v for k, v in entry.items() if k not in _DURATIONS}
        row["key"] = [str(part) if not isinstance(part, int) else part for part in entry["key"]]
        for duration, instant in _DURATIONS.items():
            value = entry.get(duration)
            if value is None:
                row[instant] = None
            elif duration == "idle_seconds":
                row[instant] = round(now - value, 1)
            else:
                row[instant] = round(now + value, 1)
        out.append(row)
    return out


def unstamped(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A stored entry as ``Supervisor.status`` gives it, aged to ``now``."""
    entry = {k: v for k, v in row.items() if k not in _DURATIONS.values()}
    for duration, instant in _DURATIONS.items():
        at = row.get(instant)
        if at is None:
            entry[duration] = None if duration != "idle_seconds" else 0.0
        elif duration == "idle_seconds":
            entry[duration] = max(0.0, now - at)
        else:
            entry[duration] = max(0.0, at - now)
    return entry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class ProcessBoard:
    """The folder of status files, one per ``estate serve`` process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def under(cls, data_dir: Path) -> ProcessBoard:
        return cls(data_dir / BOARD_DIR)

    def _file(self, pid: int) -> Path:
        return self.folder / f"{pid}.json"

    def publish(self, pid: int, rows: list[dict[str, Any]]) -> None:
        """Replace ``pid``'s file in one step (readers never see half of one)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self._file(pid)
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(rows), encoding="utf-8")
        scratch.replace(target)

    def has(self, pid: int) -> bool:
        return self._file(pid).is_file()

    def withdraw(self, pid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file(pid).unlink()

    def clear(self) -> None:
        """At the primary's start: nothing on the board outlived its process."""
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def others(self, pid: int, now: float | None = None) -> list[dict[str, Any]]:
        """The entries of every live process but ``pid``, each with its ``service_pid``."""
        now = time.time() if now is None else now
        out: list[dict[str, Any]] = []
        if not self.folder.is_dir():
            return out
        for path in sorted(self.folder.glob("*.json")):
            try:
                owner = int(path.stem)
            except ValueError:
                continue
            if owner == pid:
                continue
            if not _alive(owner):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # replaced or removed while read: next time
                continue
            out.extend({**unstamped(row, now), "service_pid": owner} for row in rows)
        return out


def every_process(supervisor: Supervisor, board: ProcessBoard) -> list[dict[str, Any]]:
    """This process's supervised processes and those the board shows of the others,
    ordered by slot, then by the ``estate serve`` process that holds them."""
    own = [{**entry, "service_pid": os.getpid()} for entry in supervisor.status()]
    entries = own + board.others(os.getpid())
    return sorted(entries, key=lambda e: (slot_of(e), e["service_pid"]))


def slot_of(entry: dict[str, Any]) -> str:
    """``provider:7``, ``provider-actions:7``, ``version:3``: how a slot is named."""
    return ":".join(str(part) for part in entry["key"])


class BoardPublisher(Repeating):
    """Writes this process's supervisor status to the board when it changed."""

    name = "estate-process-board"
    what = "publishing the plugin processes"

    def __init__(self, supervisor: Supervisor, board: ProcessBoard, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.supervisor = supervisor
        self.board = board
        self.pid = os.getpid()
        self._last: list[dict[str, Any]] | None = None

    def step(self) -> bool:
        rows = stamped(self.supervisor.status(), time.time())
        if rows != self._last or not self.board.has(self.pid):
            self.board.publish(self.pid, rows)
            self._last = rows
        return False

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self.board.withdraw(self.pid)
