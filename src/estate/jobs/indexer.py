"""The search indexer: the service's thread that moves queued resources into the
search index (see inventory.search), so that ingest never maintains trigrams.

After a collection that changed many resources the index has minutes of work (a
million at 50-110 µs each); like the ingest writer it steps aside between two batches
while the service answers requests (``ESTATE_BACKGROUND_YIELD``, ``runtime/demand.py``).
A search stays exact meanwhile: it reads the queued resources' own rows."""

from __future__ import annotations

import time

from ..context import Context
from ..inventory.search import index_queued
from .background import Repeating

IDLE_SECONDS = 1.0


class SearchIndexer(Repeating):
    """Indexes a batch after a batch while anything is queued; looks again every
    second when nothing is."""

    name = "estate-indexer"
    what = "search indexing"

    def __init__(self, context: Context) -> None:
        super().__init__(IDLE_SECONDS)
        self.context = context
        self.paused = 0.0
        """Seconds waited for requests between batches, in all."""

    def step(self) -> bool:
        started = time.monotonic()
        if not index_queued(self.context.engine):
            return False
        self.paused += self.context.step_aside(time.monotonic() - started)
        return True
