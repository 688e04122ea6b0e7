"""The bell: "something changed" rung in one process, heard in every process of the service.

Open pages' live streams (``web/live.py``) sleep until the bell rings, so that an idle
page costs nothing per second. It rings when a state-changing request succeeds and
when a job starts or ends (a run started by the scheduler included).

With ``estate serve --workers N`` the processes share it over pipes: a worker sends its
rings to the primary on the jobs pipe (``jobs/forward.py``: a ``RING`` message naming
the worker); the primary rings its own listeners and sends one byte-sized message down
each worker's ring pipe (:class:`RingPipes`), the sender's excepted; each worker's
reader thread rings its listeners. A ring is a wake-up, not data: a lost one (a full
pipe of a stuck worker) costs that worker's pages their next idle look, never a wrong
page. Nothing crosses hosts (a Celery worker elsewhere does not ring; pages still look
every ``IDLE_SECONDS``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

logger = logging.getLogger(__name__)

RING = "ring"
"""The message's first item on the jobs pipe (a job's is its name)."""

Listener = Callable[[], None]


class Bell:
    """This process's listeners, and where its rings go beyond it."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.send: Callable[[], None] | None = None
        """Carries a ring to the other processes (set at start-up, when there are any)."""

    def listen(self, listener: Listener) -> None:
        """``listener`` is called (in whichever thread rang) at every ring; it must not block."""
        self._listeners.append(listener)

    def ring(self) -> None:
        """Something changed here: wake this process's listeners and every other process."""
        self.ring_here()
        if self.send is not None:
            self.send()

    def ring_here(self) -> None:
        for listener in self._listeners:
            listener()


class RingPipes:
    """The primary's pipes to its workers, one each: the primary writes, the worker reads.

    The write ends are non-blocking: a worker that stopped reading (stuck, or being
    started again) must never stall the primary; its rings are dropped instead.
    """

    def __init__(self, workers: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.pipes = [spawn.Pipe(duplex=False) for _ in range(workers)]
        for _, writer in self.pipes:
            os.set_blocking(writer.fileno(), False)
        self._lock = threading.Lock()

    def reader(self, index: int) -> Connection:
        """Worker ``index``'s end (workers are numbered from 1; the primary is 0)."""
        return self.pipes[index - 1][0]

    def send_all(self, sender: int = 0) -> None:
        """Ring every worker but ``sender``."""
        with self._lock:
            for index, (_, writer) in enumerate(self.pipes, start=1):
                if index != sender:
                    try:
                        writer.send(RING)  # a few bytes: written whole or not at all
                    except BlockingIOError:
                        logger.debug("worker %s's ring pipe is full: ring dropped", index)


def hear(reader: Connection, bell: Bell) -> threading.Thread:
    """A worker's thread that rings ``bell`` here for each ring from the primary; it
    ends when the primary closes the pipe (or ends)."""

    def loop() -> None:
        try:
            while reader.recv() == RING:
                bell.ring_here()
        except (EOFError, OSError):  # the primary is gone: this worker ends with it
            return

    thread = threading.Thread(target=loop, name="estate-bell", daemon=True)
    thread.start()
    return thread
