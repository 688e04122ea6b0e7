"""The search indexer: the service's thread that moves queued resources into the
search index (see inventory.search), so that ingest never maintains trigrams."""

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
