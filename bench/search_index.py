"""The search window after a first collection: how long until the search index has
caught up, and what a search costs meanwhile.

Loads N resources as ``bench/api.py`` does, then, ``--repeat`` times, empties the
search index and queues every resource, as a first collection of them all leaves it
(the queueing timed: it is what the ingest's trigger does per new resource), and
times the indexing to the empty queue with each ``--indexers`` count of the service's
indexers (``SearchIndexer`` threads) in turn, alternated. A search
(``?search=`` for one host's name, through the resource query) is timed with
everything queued and again once indexed. The baseline, in the same run: one indexer.

Prints one JSON line: each count's indexing seconds (every round), their medians, the
ratio of each median to one indexer's, rows a second, the queueing seconds, and the
search's milliseconds (best of 5) queued, indexed, and on PostgreSQL indexed once the
index's table is analyzed.

    python bench/search_index.py --resources 200000 --db postgresql
    python bench/search_index.py --resources 1000000 --db postgresql --repeat 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from api import loaded_estate, progress, requeue  # bench/api.py, beside this script
from estate.context import Context
from estate.inventory.queries import ResourceFilter, resource_query
from estate.jobs.indexer import SearchIndexer


def empty_the_index(context: Context) -> float:
    """The index emptied and every resource queued; the queueing's seconds."""
    with context.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE resource_search"))
        else:
            connection.execute(text("DELETE FROM resources_search"))
    started = time.perf_counter()
    requeue(context)
    return time.perf_counter() - started


def index_with(context: Context, indexers: int) -> float:
    """Seconds until ``indexers`` of the service's indexers have emptied the queue:
    each in its own thread, stepping as the service's do (a drained backlog tidied)
    until a step finds nothing. Nobody polls the queue meanwhile (counting a million
    queued rows every few milliseconds would be a third worker)."""

    def work(indexer: SearchIndexer) -> None:
        while indexer.step():
            pass

    threads = [
        threading.Thread(target=work, args=(SearchIndexer(context, n),)) for n in range(indexers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def search_ms(context: Context, term: str) -> float:
    """Best of 5: the first page of ``?search=term``, in milliseconds."""
    best = float("inf")
    with Session(context.engine) as session:
        for _ in range(5):
            started = time.perf_counter()
            session.scalars(resource_query(ResourceFilter(search=term)).limit(100)).all()
            best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=200_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every count")
    parser.add_argument(
        "--indexers", default="1,2", help="indexer counts to compare (the first: baseline)"
    )
    parser.add_argument("--keep", help="SQLite: load into this folder once and reuse it")
    args = parser.parse_args()
    counts = [int(n) for n in args.indexers.split(",")]
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    queueing: list[float] = []
    figures: dict[str, Any] = {}
    with loaded_estate(args.db, args.resources, args.keep) as loaded:
        context, total = loaded.context, args.resources
        term = "esxi-0042"
        for round_ in range(args.repeat):
            for n in counts:
                queueing.append(empty_the_index(context))
                if round_ == 0 and n == counts[0]:
                    figures["search_queued_ms"] = round(search_ms(context, term), 1)
                progress(f"round {round_ + 1}: {n} indexer(s)")
                seconds[n].append(index_with(context, n))
        figures["search_indexed_ms"] = round(search_ms(context, term), 1)
        if args.db == "postgresql":  # as autovacuum's analyze will have, within a minute
            with context.engine.begin() as connection:
                connection.execute(text("ANALYZE resource_search"))
            figures["search_indexed_analyzed_ms"] = round(search_ms(context, term), 1)
    medians = {n: statistics.median(values) for n, values in seconds.items()}
    baseline = medians[counts[0]]
    print(
        json.dumps(
            {
                "bench": "search_index",
                "db": args.db,
                "resources": total,
                "baseline": f"{counts[0]} indexer(s)",
                "index_s": {str(n): [round(v, 2) for v in values] for n, values in seconds.items()},
                "index_s_median": {str(n): round(m, 2) for n, m in medians.items()},
                "ratio_to_baseline": {str(n): round(m / baseline, 2) for n, m in medians.items()},
                "rows_per_s": {str(n): round(total / m) for n, m in medians.items()},
                "queue_all_s_median": round(statistics.median(queueing), 2),
                **figures,
            }
        )
    )


if __name__ == "__main__":
    main()
