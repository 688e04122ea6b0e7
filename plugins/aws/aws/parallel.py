"""Run several generators in threads and yield what they produce, as it comes.

Regions are read in parallel: each region is one job on a small thread pool, and
``collect`` yields from a bounded queue, so memory stays flat however large the
estate. When the consumer stops early (the run was canceled), the jobs stop at their
next item and the pool is shut down before this generator returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

__all__ = ["merged"]

T = TypeVar("T")
QUEUE_SIZE = 2000
_DONE = object()


def merged(jobs: Sequence[Callable[[], Iterator[T]]], workers: int) -> Iterator[T]:
    """Every item of every job, jobs run ``workers`` at a time.

    A job must not raise: it reports its own failures as items. If one does, the
    exception is raised here once the other jobs are stopped.
    """
    if not jobs:
        return
    channel: queue.Queue[object] = queue.Queue(maxsize=QUEUE_SIZE)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(job: Callable[[], Iterator[T]]) -> None:
        try:
            for item in job():
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Raised(exc))
        finally:
            put(_DONE)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="aws")
    try:
        for job in jobs:
            pool.submit(run, job)
        remaining = len(jobs)
        while remaining:
            item = channel.get()
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, _Raised):
                raise item.exc
            else:
                yield cast(T, item)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
