"""The search indexer: the service's thread that moves queued resources into the
search index (see inventory.search), so that ingest never maintains trigrams.

Unlike the ingest writer it does not step aside while requests are answered
(``ESTATE_BACKGROUND_YIELD``): measured (docs/benchmarks.md), the backlog costs the
requests more than the indexing does. A search reads the queued resources' own rows,
a scan of them all (0.4 s a search with 200,000 queued on PostgreSQL, alone), so the
sooner the queue is empty the better; with the indexer stepping aside, 20 clients
saw a worse p99 (1.14-1.50 s against 1.05-1.12 s) and it indexed half as much."""

from __future__ import annotations

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

    def step(self) -> bool:
        return index_queued(self.context.engine) > 0
