"""Jobs started in an API worker process and run by the primary process's executor.

``estate serve --workers N`` runs N processes that answer the API; only the first, the
primary, runs the background parts (the executor, the scheduler, the search indexer).
A route in another process that starts a job (a collection, an action, preparing an
uploaded version) has recorded the job's row first, as every route does; it then
sends the job's name and row id to the primary over a pipe (:class:`JobPipe`, one
for all the workers), and the primary submits it to its own executor. Nothing else
crosses: the job reads everything from the database, as it does on Celery.

The same pipe carries the workers' bell rings to the primary (``jobs/bell.py``):
``(RING, worker)``, which the primary passes to its ``on_ring``.

A job whose message is lost with a stopped primary stays ``pending`` and is submitted
again at the next start (``bootstrap.recover_runs``).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from .action import run_action
from .bell import RING
from .collect import run_collection
from .conformance import run_conformance
from .executor import Job
from .prepare import prepare_version

logger = logging.getLogger(__name__)

JOBS: dict[str, Job] = {
    "run_collection": run_collection,
    "run_action": run_action,
    "prepare_version": prepare_version,
    "run_conformance": run_conformance,
}
"""The jobs a worker may forward, by name: nothing else is run from a message."""


class Sender(Protocol):
    """The workers' end of the pipe (a ``multiprocessing`` connection)."""

    def send(self, obj: Any) -> None: ...


@dataclass
class JobPipe:
    """The pipe from every worker to the primary.

    One pipe, its write end shared by every worker: a message is a few dozen bytes,
    and ``Connection.send`` writes one that small in a single ``write``, which a pipe
    keeps whole (below ``PIPE_BUF``) whoever else writes at the same time.
    """

    reader: Connection
    writer: Connection

    @classmethod
    def open(cls) -> JobPipe:
        reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
        return cls(reader, writer)

    def send(self, obj: Any) -> None:
        self.writer.send(obj)

    def recv(self) -> Any:
        return self.reader.recv()


class Submitter(Protocol):
    def submit(self, job: Job, job_id: int) -> object: ...


class ForwardingExecutor:
    """An API worker's executor: it runs nothing, it tells the primary."""

    def __init__(self, channel: Sender) -> None:
        self._channel = channel

    def submit(self, job: Job, job_id: int) -> None:
        name = getattr(job, "__name__", "")
        if JOBS.get(name) is not job:
            raise ValueError(f"job {name or job!r} cannot be forwarded to the primary")
        self._channel.send((name, job_id))

    def shutdown(self, timeout: float = 10.0) -> None:
        """Nothing runs here; jobs already sent are the primary's."""


class ForwardedJobs:
    """The primary's thread that submits the jobs the workers send (and passes their
    bell rings to ``on_ring``, with the worker's number)."""

    def __init__(
        self,
        channel: JobPipe,
        executor: Submitter,
        on_ring: Callable[[int], None] = lambda worker: None,
    ) -> None:
        self._channel = channel
        self._executor = executor
        self._on_ring = on_ring
        self._thread = threading.Thread(target=self._loop, name="estate-forwarded", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._channel.send(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (message := self._channel.recv()) is not None:
            try:
                name, job_id = message
                if name == RING:
                    self._on_ring(int(job_id))
                    continue
                job = JOBS[name]
            except (KeyError, TypeError, ValueError):
                logger.error("a worker sent a message that names no job: %r", message)
                continue
            self._executor.submit(job, int(job_id))
