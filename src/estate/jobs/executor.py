"""The local job executor: a thread pool inside the service process.

Jobs are plain functions of ``(context, id)``, so a Celery executor can run the same
functions on other hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..context import Context

logger = logging.getLogger(__name__)

Job = Callable[[Context, int], None]


class LocalExecutor:
    """Runs jobs on ``settings.workers`` threads of this process."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._pool = ThreadPoolExecutor(
            max_workers=context.settings.workers, thread_name_prefix="estate-job"
        )

    def submit(self, job: Job, job_id: int) -> Future[None]:
        future = self._pool.submit(self._run, job, job_id)
        return future

    def _run(self, job: Job, job_id: int) -> None:
        try:
            job(self.context, job_id)
        except Exception:  # process boundary: a job bug must not kill the worker thread
            logger.exception("job %s(%s) failed", getattr(job, "__name__", job), job_id)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
