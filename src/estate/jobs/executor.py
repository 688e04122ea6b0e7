"""The local job executor: a thread pool inside the service process.

Jobs are plain functions of ``(context, id)``, so a Celery executor can run the same
functions on other hosts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from ..context import Context

logger = logging.getLogger(__name__)

Job = Callable[[Context, int], None]


class LocalExecutor:
    """Runs jobs on ``settings.workers`` threads of this process; ``on_change`` is
    called as each job starts and ends (the bell: open pages look again)."""

    def __init__(self, context: Context, on_change: Callable[[], None] = lambda: None) -> None:
        self.context = context
        self._on_change = on_change
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=context.settings.workers, thread_name_prefix="estate-job"
        )

    def submit(self, job: Job, job_id: int) -> Future[None]:
        future = self._pool.submit(self._run, job, job_id)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(self, job: Job, job_id: int) -> None:
        self._on_change()
        try:
            job(self.context, job_id)
        except Exception:  # process boundary: a job bug must not kill the worker thread
            logger.exception("job %s(%s) failed", getattr(job, "__name__", job), job_id)
        finally:
            self._on_change()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Drop queued jobs and give running ones ``timeout`` seconds to end.

        A run still going after that is failed at the next start (bootstrap.recover_runs).
        """
        with self._lock:
            running = list(self._futures)
        self._pool.shutdown(wait=False, cancel_futures=True)
        wait(running, timeout=timeout)
