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
from ..inventory.search import BATCH, index_queued, tidy_queue
from .background import Repeating

IDLE_SECONDS = 1.0
TIDY_AFTER = 1000
"""Resources indexed since the queue was last tidied for a drained queue to be tidied."""


class SearchIndexer(Repeating):
    """Indexes a batch after a batch while anything is queued; looks again every
    second when nothing is. On PostgreSQL the primary runs ``ESTATE_SEARCH_INDEXERS``
    of them (default 2), each taking its own batches: a first collection of 1,000,000
    was indexed in 26.4 s against one indexer's 45.0 on a 2-core host (the database
    server's trigram work is most of it, and it then runs on both cores). After a
    drained backlog the queue is tidied (``tidy_queue``: searches read it)."""

    what = "search indexing"

    def __init__(self, context: Context, number: int = 0, batch: int = BATCH) -> None:
        super().__init__(IDLE_SECONDS)
        self.context, self.batch = context, batch
        self.name = f"estate-indexer-{number}"
        self.untidy = 0

    def step(self) -> bool:
        taken = index_queued(self.context.engine, self.batch)
        self.untidy += taken
        if taken < self.batch and self.untidy >= TIDY_AFTER:  # a backlog drained
            tidy_queue(self.context.engine)
            self.untidy = 0
        return taken > 0
