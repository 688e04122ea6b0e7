"""Store a collection run's resources: batch upserts, change tracking, deletions.

Each batch is one transaction: look the batch's ``ems_ref`` up, insert the new ones,
touch the unchanged ones, update the changed ones with a ``{field: {from, to}}`` diff,
restore the ones that came back. History rows are written only for real changes.
``finish(complete=True)`` marks what the run did not see as deleted; a run that failed,
was canceled or was partial deletes nothing. Memory is bounded by one batch. A word
outside the vocabularies (``records.Record.words``) is passed to ``warn`` once a run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection, Engine

from inventory_providers.base import ResourceValidationError
from inventory_providers.vocabulary import unknown_word_note

from ..redaction import escaped
from .records import (
    DATA_COLUMNS,
    Record,
    Words,
    comparable,
    diff,
    diff_relationships,
    identify,
    is_targeted,
    json_cells,
    may_hold_nul,
    rules_key,
    stored_links,
    stored_values,
    to_record,
)
from .sightings import SIGHTING_COLUMNS, Tracking, carry_on, retention_cutoff
from .statements import CHANGE_COLUMNS, Statements

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 100
MAX_WORDS = 1000  # distinct words outside the vocabularies warned about in one run
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
        target_types: Iterable[str] | None = None,
        warn: Callable[[str], None] | None = None,
        sighting_retention_days: int = 0,
        pause: Callable[[float], float] | None = None,
    ) -> None:
        """``target_types``: a targeted run's types; records of others are dropped
        unread (``skipped``), and only resources of these types may be marked deleted.
        ``warn`` receives one line per distinct word outside the vocabularies.
        ``pause`` is called after each stored batch with the seconds it took, and
        returns the seconds it waited (``runtime/demand.py``: a background run steps
        aside while requests are answered); ``paused`` adds them up.
        The writer thread runs at the niceness of the thread that sends the first batch
        (a collection's: background, runtime/niceness.py)."""
        self.engine = engine
        self.target_types = frozenset(target_types) if target_types else None
        self.skipped = 0
        self.sighting_retention_days = sighting_retention_days
        self.provider_id = provider_id
        self.run_id = run_id
        self.allowed_types = frozenset(allowed_types) if allowed_types is not None else None
        self.counters = Counters()
        self.problems: list[dict[str, Any]] = []
        self._sql = Statements(engine.dialect.name)
        self._lock = threading.Lock()
        # Batches are validated and stored by a writer thread while the caller reads
        # the next one from the plugin.
        self._queue: queue.Queue[Sequence[Any] | None] = queue.Queue(maxsize=2)
        self._writer: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._analyzed_at = 0
        self._fresh: bool | None = None
        # Every resource this run inserts gets an id above this (see link_new).
        self._watermark: int | None = None
        self._key = rules_key(self.allowed_types)
        self._warn = warn
        self._words: set[tuple[str, str]] = set()
        self._pause = pause
        self.paused = 0.0

    # -- batches -----------------------------------------------------------------

    def add_batch(self, raw: Sequence[Any]) -> None:
        """Queue one batch of wire records for validating and storing.

        Both happen in the writer thread, so the caller goes straight back to reading
        the plugin's next batch (which keeps the plugin busy on the other core) and
        the only Python work competing for the GIL is that reading. Blocks while two
        batches wait: the plugin is slowed to the pace of the database, and memory
        stays bounded.
        """
        if self._failure is not None:
            self.flush()
        if self.target_types is not None:
            kept = [item for item in raw if is_targeted(item, self.target_types)]
            self.skipped += len(raw) - len(kept)
            raw = kept
        self.counters.found += len(raw)
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write, name="estate-ingest-writer", daemon=True
            )
            self._writer.start()
        self._queue.put(raw)

    def _validate(self, raw: Iterable[tuple[int, Any]], nul: bool) -> dict[str, Record]:
        """Check ``(index in the batch, record)`` pairs; reject the bad and repeated.

        ``nul``: whether the batch may hold a NUL character (``may_hold_nul``).
        """
        records: dict[str, Record] = {}
        for index, item in raw:
            try:
                record = to_record(item, self.allowed_types, nul_possible=nul)
            except ResourceValidationError as exc:
                self.reject(_ref_of(item), f"{exc}", index)
                continue
            if record.words:
                self._note(record.words)
            if record.ems_ref in records:
                self.reject(record.ems_ref, "ems_ref appears twice in this run", index)
                continue
            records[record.ems_ref] = record
        return records

    def _note(self, words: Words) -> None:
        for field, word, stored in words:
            if (field, word) in self._words or len(self._words) >= MAX_WORDS:
                continue
            self._words.add((field, word))
            if self._warn is not None:
                self._warn(unknown_word_note(field, word, stored))

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
        while (raw := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # keep draining so the producer never blocks forever
            try:
                started = time.monotonic()
                with self.engine.begin() as conn:
                    self._store_batch(conn, raw)
                self._refresh_statistics()
            except Exception as exc:  # thread boundary: handed to the producer by flush()
                self._failure = exc
                continue
            if self._pause is not None:
                self.paused += self._pause(time.monotonic() - started)

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
        if ems_ref is not None:
            ems_ref = escaped(ems_ref)  # stored in the run's error_details
        with self._lock:
            self.counters.errors += 1
            if len(self.problems) < MAX_PROBLEMS:
                self.problems.append({"ems_ref": ems_ref, "index": index, "error": message})

    def _store_batch(self, conn: Connection, raw: Sequence[Any]) -> None:
        if self._fresh is None:
            self._watermark = int(conn.exec_driver_sql(self._sql.last_id).scalar_one())
            self._fresh = (
                conn.exec_driver_sql(self._sql.any_resource, (self.provider_id,)).first() is None
            )
        rest = enumerate(raw) if self._fresh else self._touch_same(conn, raw)
        records = self._validate(rest, may_hold_nul(raw))
        if records:
            self._store(conn, records)

    def _touch_same(self, conn: Connection, raw: Sequence[Any]) -> list[tuple[int, Any]]:
        """Touch the records whose bytes are the ones stored; return the others.

        Their content hash (personalised with the rules, see records.rules_key) says
        they are the very bytes that passed the same checks before, so they are
        neither checked nor decoded again. Only the first record of an ems_ref in the
        batch is a candidate; a later one whose ems_ref was touched is a duplicate.
        """
        refs: list[str] = []
        hashes: list[str] = []
        item_refs: list[str | None] = []
        for item in raw:
            identity = identify(item, self._key)
            if identity is None:
                item_refs.append(None)
                continue
            ref, digest = identity
            item_refs.append(ref)
            refs.append(ref)
            hashes.append(digest)
        if not refs:
            return list(enumerate(raw))
        now = _timestamp(datetime.now(UTC))
        params = (now, self.run_id, *self._sql.pairs(refs, hashes), self.provider_id, self.run_id)
        touched = {row[0] for row in conn.exec_driver_sql(self._sql.touch_same, params)}
        if not touched:
            return list(enumerate(raw))
        self.counters.unchanged += len(touched)
        rest: list[tuple[int, Any]] = []
        done: set[str] = set()
        for index, (item, known) in enumerate(zip(raw, item_refs, strict=True)):
            if known is None or known not in touched:
                rest.append((index, item))
            elif known in done:
                self.reject(known, "ems_ref appears twice in this run", index)
            else:
                done.add(known)
        return rest

    def _store(self, conn: Connection, records: dict[str, Record]) -> None:
        now = _timestamp(datetime.now(UTC))
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
            result = conn.exec_driver_sql(self._sql.insert_batch, (pid, run, now, now, batch))
            inserted = result.rowcount
        else:
            # SQLite (before 3.45) re-parses JSON text per field: bind rows instead,
            # each exactly as to_record made it; what all share is in the statement.
            # The DB-API cursor takes the rows as they are (SQLAlchemy wants tuples).
            insert = self._sql.insert_values(pid, run, now)
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(insert, [r.row for r in records])
                inserted = cursor.rowcount
            finally:
                cursor.close()
        # No "created" row (history derives it from first_seen_*), and no reverse-index
        # rows yet: finish() writes those for the whole run in one statement.
        if inserted < len(records):
            records = self._drop_repeats(conn, records, now)
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
        links_at = 1 + len(DATA_COLUMNS)
        old = {
            row[0]: (
                stored_values(row[1:links_at]),
                stored_links(row[links_at]),
                Tracking(*row[links_at + 1 :]),
            )
            for row in conn.exec_driver_sql(self._sql.old_values, (ids,))
        }
        pid = self.provider_id
        updates: list[tuple[Any, ...]] = []
        seen: list[tuple[Any, ...]] = []
        history: list[tuple[Any, ...]] = []
        sightings: list[tuple[Any, ...]] = []
        unlinks: list[tuple[int, str, str]] = []
        links: list[tuple[int, str, str]] = []
        for row_id, record, is_deleted in changed:
            old_values, old_links, tracking = old[row_id]
            new_values = comparable(record.values)
            changes = diff(old_values, new_values)
            moved = diff_relationships(old_links, record.relationships)
            if moved:
                changes.update(moved)
                ref = record.ems_ref
                unlinks.extend({(pid, target, ref) for target, _ in old_links})
                links.extend({(pid, target, ref) for target, _ in record.relationships})
            ended, counters = carry_on(
                row_id,
                old_values,
                new_values,
                tracking,
                restored=is_deleted,
                run_id=self.run_id,
                now=now,
            )
            if ended is not None:
                sightings.append(ended)
            seen_count, *sighting = counters
            updates.append((*record.row[1:], now, *sighting, row_id))
            seen.append((now, self.run_id, seen_count, row_id))
            if changes or is_deleted:
                kind = "restored" if is_deleted else "modified"
                body = orjson.dumps(changes).decode() if changes else None
                previous = tracking.last_seen_run_id
                history.append((row_id, self.run_id, previous, kind, body, now))
                if is_deleted:
                    self.counters.restored += 1
                else:
                    self.counters.updated += 1
            else:  # same content serialised differently: nothing really changed
                self.counters.unchanged += 1
        conn.exec_driver_sql(self._sql.update, updates)
        conn.exec_driver_sql(self._sql.update_seen, seen)
        if history:
            self._sql.insert_rows(conn, "resource_changes", CHANGE_COLUMNS, history)
        if sightings:
            self._sql.insert_rows(conn, "resource_sightings", SIGHTING_COLUMNS, sightings)
        # The reverse index of a resource seen before: its old edges out, its new in.
        if unlinks:
            conn.exec_driver_sql(self._sql.unlink, unlinks)
        if links:
            conn.exec_driver_sql(self._sql.link, links)

    # -- end of run --------------------------------------------------------------

    def finish(self, *, complete: bool) -> Counters:
        """Close the run; only a ``complete`` run marks unseen resources deleted.

        Whatever the outcome, the resources the run stored get their reverse
        relationship index. Raises what storing a batch raised, if ``flush`` did not.
        """
        try:
            self.flush()
        finally:
            if self._watermark is not None:
                link_new(self.engine, self.provider_id, self.run_id, self._watermark)
        if complete:
            self.counters.deleted = self._delete_unseen()
        self._prune_sightings()
        return self.counters

    def _prune_sightings(self) -> None:
        """Drop the provider's ended sightings older than the retention.

        After each run of the provider: one indexed range of ``last_seen_at``, so a
        run with nothing expired costs one index probe.
        """
        cutoff = retention_cutoff(self.sighting_retention_days)
        if cutoff is None:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._sql.prune_sightings, (cutoff, self.provider_id))

    def _delete_unseen(self) -> int:
        now = _timestamp(datetime.now(UTC))
        pid, run = self.provider_id, self.run_id
        c = self.counters
        seen = c.created + c.updated + c.unchanged + c.restored  # distinct ems_refs
        if self.target_types is not None:
            types = self._sql.values(sorted(self.target_types))
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self._sql.insert_deleted_of_types, (run, now, pid, run, types))
                result = conn.exec_driver_sql(
                    self._sql.mark_deleted_of_types, (now, now, pid, run, types)
                )
            return int(result.rowcount)
        with self.engine.begin() as conn:
            # Every resource the provider has alive was seen: no need to visit them
            # all to find none. Both counts read indexes only (deleted ones are a
            # partial index), where finding the unseen reads every row.
            (total,) = conn.exec_driver_sql(self._sql.count_all, (pid,)).one()
            (deleted,) = conn.exec_driver_sql(self._sql.count_deleted, (pid,)).one()
            if total - deleted == seen:
                return 0
            conn.exec_driver_sql(self._sql.insert_deleted, (run, now, pid, run))
            result = conn.exec_driver_sql(self._sql.mark_deleted, (now, now, pid, run))
        return int(result.rowcount)


def link_new(
    engine: Engine, provider_id: int, run_id: int, watermark: int = 0, *, replace: bool = False
) -> None:
    """Write the reverse relationship index of the resources ``run_id`` inserted.

    ``watermark`` is an id every one of them is above (0 when not known). With
    ``replace`` (recovering a run the service stopped during, which may or may not
    have got that far), index rows those resources already have are dropped first.
    """
    sql = Statements(engine.dialect.name)
    with engine.begin() as conn:
        if replace:
            conn.exec_driver_sql(sql.unlink_new, (provider_id, watermark, provider_id, run_id))
        conn.exec_driver_sql(sql.link_new, (watermark, provider_id, run_id))


def _batch(records: list[Record]) -> str:
    """The JSON parameter of a batch (see statements.py for the row layout)."""
    rows = []
    for record in records:
        row = record.row
        links = msgspec.Raw(row[-2].encode()) if row[-2] else None
        rows.append((row[0], *json_cells(row[1:-2]), row[-1], links))
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
