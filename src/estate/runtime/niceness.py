"""Background niceness: what a background job's threads and plugin processes run at.

A collection or a conformance run is background work: when the CPU is short, the
processes and threads answering requests should get it first. Such a job runs in a
thread of its own at the service's niceness plus ``settings.background_nice``
(:func:`run_niced`); every thread and process it starts inherits that (the plugin's
output readers, the ingest writer, the plugin process and all the plugin starts). One
thing is not inherited: a plugin runs in a session of its own, which (Linux with
autogroups) is a group the kernel weighs as a whole against the service's, whatever
the niceness inside; the host gives that group the niceness of the thread that
started it (:func:`group_as_caller`). Linux keeps a niceness per thread; elsewhere
``setpriority`` would lower the whole service, so nothing is niced there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MAX_NICENESS = 19


def background_level(added: int) -> int:
    """The service's niceness (its main thread's) plus ``added``, at most 19."""
    return min(MAX_NICENESS, os.getpriority(os.PRIO_PROCESS, os.getpid()) + added)


def raise_niceness(pid: int, level: int) -> None:
    """Set thread or process ``pid`` to niceness ``level`` unless it is already at it
    or above (raising a niceness never needs a privilege; lowering one would)."""
    if os.getpriority(os.PRIO_PROCESS, pid) < level:
        os.setpriority(os.PRIO_PROCESS, pid, level)


def group_as_caller(pid: int) -> None:
    """Give the autogroup of session leader ``pid`` (a plugin just started by this
    thread) this thread's niceness when it is above the service's. Best effort: a
    kernel without autogroups has no such file, and a refusal (or a process ended
    already) costs the requests some CPU, never the plugin its start."""
    level = os.getpriority(os.PRIO_PROCESS, 0)  # Linux: the calling thread's
    if level > background_level(0):
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(level))


def run_niced(added: int, work: Callable[[], T], name: str) -> T:
    """``work()`` in a new thread at :func:`background_level` (``added`` 0, or not
    Linux: in the calling thread), waited for; what it raises is raised here. A thread
    of its own, because an unprivileged thread cannot give its niceness back and the
    caller's (a job executor's) thread goes on to run other jobs."""
    if not added or not sys.platform.startswith("linux"):
        return work()
    level = background_level(added)
    outcome: list[T] = []
    failure: list[BaseException] = []

    def niced() -> None:
        try:
            raise_niceness(threading.get_native_id(), level)
            outcome.append(work())
        except BaseException as exc:  # carried to the caller, raised there
            failure.append(exc)

    thread = threading.Thread(target=niced, name=name, daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
