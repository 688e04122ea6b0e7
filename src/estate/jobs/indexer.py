"""The search indexer: the service's thread that moves queued resources into the
search index (see inventory.search), so that ingest never maintains trigrams."""

from __future__ import annotations

import logging
import threading

from ..context import Context
from ..inventory.search import index_queued

logger = logging.getLogger(__name__)
IDLE_SECONDS = 1.0


class SearchIndexer:
    """``start`` at start-up, ``stop`` at shutdown. Indexes a batch after a batch while
    anything is queued; looks again every second when nothing is."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="estate-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                done = index_queued(self.context.engine)
            except Exception:  # thread boundary: a failed batch is retried, not fatal
                if not failing:  # once per outage (a database down), not once a second
                    logger.exception("search indexing failed; trying again every second")
                failing = True
                done = 0
            else:
                if failing:
                    logger.info("search indexing works again")
                failing = False
            if not done:  # up to date (or failing): look again in a second
                self._stopping.wait(IDLE_SECONDS)
