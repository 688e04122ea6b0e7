"""Store a collection run's resources: batch upserts, change tracking, deletions.

Each batch is one transaction: look the batch's ``ems_ref`` up, insert the new ones,
touch the unchanged ones, update the changed ones with a ``{field: {from, to}}`` diff,
restore the ones that came back. History rows are written only for real changes.
``finish(complete=True)`` marks what the run did not see as deleted; a run that failed,
was canceled or was partial deletes nothing. Memory is bounded by one batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection, Engine

from inventory_providers.base import ResourceValidationError

from .records import (
    Record,
    Relationships,
    comparable,
    diff,
    diff_relationships,
    stored_values,
    to_record,
)
from .statements import CHANGE_COLUMNS, RELATIONSHIP_COLUMNS, Statements

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 100
_ENCODE = msgspec.json.encode


@dataclass(slots=True)
class Counters:
    found: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    restored: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _timestamp(moment: datetime) -> str:
    """The text both backends read as a naive UTC timestamp."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Ingestor:
    """Ingests one run of one provider, batch by batch."""

    def __init__(
        self,
        engine: Engine,
        *,
        provider_id: int,
        run_id: int,
        allowed_types: Iterable[str] | None = None,
    ) -> None:
        self.engine = engine
        self.provider_id = provider_id
        self.run_id = run_id
        self.allowed_types = frozenset(allowed_types) if allowed_types is not None else None
        self.counters = Counters()
        self.problems: list[dict[str, Any]] = []
        self._sql = Statements(engine.dialect.name)
        self._lock = threading.Lock()
        # Batches are validated in the caller's thread and stored by a writer thread,
        # so decoding the next batch overlaps the database work of this one.
        self._queue: queue.Queue[dict[str, Record] | None] = queue.Queue(maxsize=2)
        self._writer: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._analyzed_at = 0
        self._fresh: bool | None = None

    # -- batches -----------------------------------------------------------------

    def add_batch(self, raw: Sequence[Any]) -> None:
        """Validate one batch of wire records and queue it for storing.

        Blocks while two batches wait for the database: the plugin is slowed to the
        pace of the database, and memory stays bounded.
        """
        if self._failure is not None:
            self.flush()
        self.counters.found += len(raw)
        records: dict[str, Record] = {}
        for index, item in enumerate(raw):
            try:
                record = to_record(item, self.allowed_types)
            except ResourceValidationError as exc:
                self.reject(_ref_of(item), f"{exc}", index)
                continue
            if record.ems_ref in records:
                self.reject(record.ems_ref, "ems_ref appears twice in this run", index)
                continue
            records[record.ems_ref] = record
        if records:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="ingest-writer", daemon=True
                )
                self._writer.start()
            self._queue.put(records)

    def flush(self) -> None:
        """Wait until every queued batch is stored; re-raise the writer's failure."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _write(self) -> None:
        while (records := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # keep draining so the producer never blocks forever
            try:
                with self.engine.begin() as conn:
                    self._store(conn, records)
                self._refresh_statistics()
            except Exception as exc:  # thread boundary: handed to the producer by flush()
                self._failure = exc

    def _refresh_statistics(self) -> None:
        """ANALYZE on PostgreSQL each time this run has doubled what it inserted.

        Plans made with the statistics of a table that was empty (or much smaller)
        scan every row of the provider for each batch: O(n²) over a first ingest.
        """
        created = self.counters.created
        if not self._sql.is_postgresql or created < max(2 * self._analyzed_at, 2000):
            return
        self._analyzed_at = created
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE resources, resource_relationships")

    def reject(self, ems_ref: str | None, message: str, index: int | None = None) -> None:
        """Count one resource the plugin sent that cannot be stored."""
        with self._lock:
            self.counters.errors += 1
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append({"ems_ref": ems_ref, "index": index, "error": message})

    def _store(self, conn: Connection, records: dict[str, Record]) -> None:
        now = _timestamp(datetime.now(UTC))
        if self._fresh is None:
            self._fresh = (
                conn.exec_driver_sql(self._sql.any_resource, (self.provider_id,)).first() is None
            )
        if self._fresh:
            # The provider had nothing when the run began: every record is new, but
            # for one that came twice in this run (the insert skips it).
            self._insert(conn, list(records.values()), now)
            return
        existing = self._lookup(conn, list(records))
        new: list[Record] = []
        unchanged: list[int] = []
        changed: list[tuple[int, Record, bool]] = []
        for ref, record in records.items():
            found = existing.get(ref)
            if found is None:
                new.append(record)
                continue
            row_id, content_hash, is_deleted, last_run = found
            if last_run == self.run_id:
                self.reject(ref, "ems_ref appears twice in this run")
            elif content_hash == record.content_hash and not is_deleted:
                unchanged.append(row_id)
            else:
                changed.append((row_id, record, is_deleted))
        if new:
            self._insert(conn, new, now)
        if unchanged:
            self._touch(conn, unchanged, now)
        if changed:
            self._update(conn, changed, now)

    def _lookup(
        self, conn: Connection, refs: list[str]
    ) -> dict[str, tuple[int, str, bool, int | None]]:
        rows = conn.exec_driver_sql(
            self._sql.lookup, (self.provider_id, self._sql.values(refs))
        ).all()
        return {r[0]: (r[1], r[2], bool(r[3]), r[4]) for r in rows}

    def _insert(self, conn: Connection, records: list[Record], now: str) -> None:
        pid, run = self.provider_id, self.run_id
        if self._sql.is_postgresql:
            # jsonb is parsed once per batch: the whole batch goes as one parameter.
            batch = _batch(records)
            result = conn.exec_driver_sql(self._sql.insert_batch, (pid, now, now, run, now, batch))
        else:
            # SQLite (before 3.45) re-parses JSON text per field: bind rows instead.
            rows = [
                (pid, r.ems_ref, *r.sql_values(), r.content_hash, now, now, run, now)
                for r in records
            ]
            result = conn.exec_driver_sql(self._sql.insert_values, rows)
        if result.rowcount < len(records):
            records = self._drop_repeats(conn, records, now)
            batch = _batch(records)
        refs = self._sql.values([r.ems_ref for r in records])
        conn.exec_driver_sql(self._sql.insert_created, (run, now, pid, refs, now))
        if any(r.relationships for r in records):
            if self._sql.is_postgresql:
                conn.exec_driver_sql(self._sql.insert_links, (pid, batch))
            else:
                links = [(pid, r.ems_ref, t, k) for r in records for t, k in r.relationships]
                self._sql.insert_rows(conn, "resource_relationships", RELATIONSHIP_COLUMNS, links)
        self.counters.created += len(records)

    def _drop_repeats(self, conn: Connection, records: list[Record], now: str) -> list[Record]:
        """Reject the records an earlier batch of this run already stored."""
        refs = self._sql.values([r.ems_ref for r in records])
        rows = conn.exec_driver_sql(self._sql.earlier, (self.provider_id, refs, now))
        earlier = {row[0] for row in rows}
        for ref in sorted(earlier):
            self.reject(ref, "ems_ref appears twice in this run")
        return [r for r in records if r.ems_ref not in earlier]

    def _touch(self, conn: Connection, ids: list[int], now: str) -> None:
        conn.exec_driver_sql(self._sql.touch, (now, self.run_id, self._sql.values(ids)))
        self.counters.unchanged += len(ids)

    def _update(self, conn: Connection, changed: list[tuple[int, Record, bool]], now: str) -> None:
        ids = self._sql.values([row_id for row_id, _, _ in changed])
        old = {
            row[0]: stored_values(row[1:])
            for row in conn.exec_driver_sql(self._sql.old_values, (ids,))
        }
        old_links = self._links(conn, [record.ems_ref for _, record, _ in changed])
        updates, history, rewired = [], [], []
        for row_id, record, is_deleted in changed:
            changes = diff(old[row_id], comparable(record.values))
            moved = diff_relationships(old_links.get(record.ems_ref, ()), record.relationships)
            if moved:
                changes.update(moved)
                rewired.append(record)
            updates.append(
                (*record.sql_values(), record.content_hash, now, self.run_id, now, row_id)
            )
            if changes or is_deleted:
                kind = "restored" if is_deleted else "modified"
                body = orjson.dumps(changes).decode() if changes else None
                history.append((row_id, self.run_id, kind, body, now))
                if is_deleted:
                    self.counters.restored += 1
                else:
                    self.counters.updated += 1
            else:  # same content serialised differently: nothing really changed
                self.counters.unchanged += 1
        conn.exec_driver_sql(self._sql.update, updates)
        if history:
            self._sql.insert_rows(conn, "resource_changes", CHANGE_COLUMNS, history)
        if rewired:
            refs = self._sql.values([r.ems_ref for r in rewired])
            conn.exec_driver_sql(self._sql.drop_links, (self.provider_id, refs))
            rows = [
                (self.provider_id, r.ems_ref, t, k) for r in rewired for t, k in r.relationships
            ]
            if rows:
                self._sql.insert_rows(conn, "resource_relationships", RELATIONSHIP_COLUMNS, rows)

    def _links(self, conn: Connection, refs: list[str]) -> dict[str, Relationships]:
        rows = conn.exec_driver_sql(
            self._sql.old_links, (self.provider_id, self._sql.values(refs))
        ).all()
        links: dict[str, list[tuple[str, str]]] = {}
        for source, target, kind in rows:
            links.setdefault(source, []).append((target, kind))
        return {ref: tuple(pairs) for ref, pairs in links.items()}

    # -- end of run --------------------------------------------------------------

    def finish(self, *, complete: bool) -> Counters:
        """Close the run; only a ``complete`` run marks unseen resources deleted.

        Raises what storing a batch raised, if ``flush`` did not already.
        """
        self.flush()
        if complete:
            self.counters.deleted = self._delete_unseen()
        return self.counters

    def _delete_unseen(self) -> int:
        now = _timestamp(datetime.now(UTC))
        pid, run = self.provider_id, self.run_id
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._sql.insert_deleted, (run, now, pid, run))
            result = conn.exec_driver_sql(self._sql.mark_deleted, (now, now, pid, run))
        return int(result.rowcount)


def _batch(records: list[Record]) -> str:
    """The JSON parameter of a batch (see statements.py for the row layout)."""
    rows = [(r.ems_ref, *r.values, r.content_hash, r.relationships) for r in records]
    return _ENCODE(rows).decode()


def _ref_of(item: Any) -> str | None:
    """The ``ems_ref`` of a rejected record, when one can be read from it."""
    if not isinstance(item, dict):
        try:
            item = msgspec.json.decode(item)
        except (msgspec.DecodeError, TypeError):
            return None
    ref = item.get("ems_ref") if isinstance(item, dict) else None
    return str(ref) if ref is not None else None
