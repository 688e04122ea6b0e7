"""A service's background thread that repeats one step: the scheduler's tick, the
search indexer's batch. One place for starting, stopping and surviving failures."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class Repeating:
    """Calls :meth:`step` until stopped: again at once while it returns True (more
    work waits), else after ``interval`` seconds. A failing step is logged once per
    outage (a database down), not once per try, and tried again after ``interval``."""

    name = "estate-background"
    what = "a background step"

    def __init__(self, interval: float, *, wait_first: bool = False) -> None:
        self.interval = interval
        self.wait_first = wait_first
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def step(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failing = False
        if self.wait_first and self._stopping.wait(self.interval):
            return
        while not self._stopping.is_set():
            try:
                again = self.step()
            except Exception:  # thread boundary: a failed step must not end the thread
                if not failing:
                    logger.exception("%s failed; trying again every %gs", self.what, self.interval)
                failing = True
                again = False
            else:
                if failing:
                    logger.info("%s works again", self.what)
                failing = False
            if not again:
                self._stopping.wait(self.interval)
