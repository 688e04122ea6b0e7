"""The SQL of ingest, per dialect.

A batch travels to the database as one JSON array parameter and the database
expands it (``json_each`` on SQLite, ``jsonb_array_elements`` on PostgreSQL). The
per-row work then runs inside the database engine, with Python's GIL released,
instead of binding dozens of parameters per row in Python.

A batch row is ``[ems_ref, *DATA_COLUMNS values, content_hash, [[target, type], …]]``.

A resource's relationships are a column of its own row; the reverse index
(``resource_relationships``) of a run's new resources is filled by one
``INSERT … SELECT`` when the run ends (``link_new``), which costs a fraction of
writing the rows batch by batch: the index pages of a target are written once, not
once per batch that touches them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from ..db.among import among_sql, list_parameter
from .records import DATA_COLUMNS, JSON_COLUMNS
from .sightings import SIGHTING_SETS, TRACKING_COLUMNS

INSERT_COLUMNS = (
    "provider_id",
    "ems_ref",
    *DATA_COLUMNS,
    "relationships",
    "content_hash",
    "first_seen_run_id",
    "first_seen_at",
    "updated_at",
)
UPDATE_COLUMNS = (*DATA_COLUMNS, "relationships", "content_hash", "updated_at")
CHANGE_COLUMNS = ("resource_id", "run_id", "previous_run_id", "kind", "changes", "changed_at")
RELATIONSHIP_COLUMNS = ("provider_id", "target_ems_ref", "source_ems_ref")
HASH_INDEX = 1 + len(DATA_COLUMNS)
LINKS_INDEX = HASH_INDEX + 1
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
_PG_CASTS = {"cpu_count": "bigint", "memory_mb": "bigint", "disk_gb": "double precision"}


class Statements:
    """Every statement ingest runs, with the driver's placeholders and casts."""

    def __init__(self, dialect: str) -> None:
        self.is_postgresql = pg = dialect == "postgresql"
        self.p = "%s" if pg else "?"
        self._ts = "CAST(%s AS timestamp)" if pg else "?"
        self._integer = "CAST(%s AS integer)" if pg else "?"
        self._define_inserts()
        self._define_links()
        self._define_lookups()
        self._define_touches()
        self._define_deletions()

    def _define_inserts(self) -> None:
        """New resources: a batch expanded by the database, or rows bound one by one."""
        pg, ts, integer = self.is_postgresql, self._ts, self._integer
        rows = "jsonb_array_elements(CAST(%s AS jsonb)) AS r(value)" if pg else "json_each(?) AS r"
        fields = ", ".join(self._field(i + 1, column) for i, column in enumerate(DATA_COLUMNS))
        links = (
            f"NULLIF(r.value->{LINKS_INDEX}, 'null'::jsonb)" if pg else f"r.value->>{LINKS_INDEX}"
        )
        self.insert_batch = (
            f"INSERT INTO resources ({', '.join(INSERT_COLUMNS)}) "
            f"SELECT {integer}, r.value->>0, {fields}, {links}, r.value->>{HASH_INDEX}, "
            f"{integer}, {ts}, {ts} "
            f"FROM {rows} ON CONFLICT (provider_id, ems_ref) DO NOTHING"
        )
        self.last_id = "SELECT coalesce(max(id), 0) FROM resources"
        row = len(INSERT_COLUMNS) - 4  # bound per row: ems_ref … content_hash
        self._insert_values = (
            f"INSERT INTO resources ({', '.join(INSERT_COLUMNS)}) "
            f"VALUES (%(pid)d, {', '.join('?' * row)}, %(run)d, '%(now)s', '%(now)s') "
            "ON CONFLICT (provider_id, ems_ref) DO NOTHING"
        )

    def _define_links(self) -> None:
        """The reverse index of relationships: filled for a run's new resources at its
        end, edited one edge at a time for changed ones."""
        p = self.p
        self.link_new = self._link_new()
        self.link = (
            f"INSERT INTO resource_relationships ({', '.join(RELATIONSHIP_COLUMNS)}) "
            f"VALUES ({p}, {p}, {p}) ON CONFLICT DO NOTHING"
        )
        self.unlink_new = (
            f"DELETE FROM resource_relationships WHERE provider_id = {p} AND source_ems_ref IN "
            f"(SELECT ems_ref FROM resources WHERE id > {p} AND provider_id = {p} "
            f"AND first_seen_run_id = {p})"
        )
        self.unlink = (
            f"DELETE FROM resource_relationships WHERE provider_id = {p} "
            f"AND target_ems_ref = {p} AND source_ems_ref = {p}"
        )

    def _link_new(self) -> str:
        # The reverse index of the resources a run inserted (ids above the run's
        # watermark, first seen in the run), sorted so that its b-tree only appends.
        # On SQLite, json_tree reads each array once (``e.value->>0`` would re-parse
        # every pair); its leaves with key 0 are the targets.
        p = self.p
        if self.is_postgresql:
            targets, target, leaves = (
                "jsonb_array_elements(r.relationships) AS e(value)",
                "e.value->>0",
                "",
            )
        else:
            targets, target = "json_tree(r.relationships) AS e", "e.value"
            leaves = " AND e.key = 0 AND e.type = 'text'"
        return (
            f"INSERT INTO resource_relationships ({', '.join(RELATIONSHIP_COLUMNS)}) "
            f"SELECT r.provider_id, {target}, r.ems_ref FROM resources r, {targets} "
            # (SQLite, with no statistics, would rather walk the provider's ems_ref
            # index than the id range: the unary + keeps it on the range.)
            f"WHERE r.id > {p} AND +r.provider_id = {p} AND r.first_seen_run_id = {p} "
            f"AND r.relationships IS NOT NULL{leaves} ORDER BY 2, 3 ON CONFLICT DO NOTHING"
        )

    def _define_lookups(self) -> None:
        """What is stored already: by ems_ref, by id, and whether anything is."""
        p = self.p
        self.earlier = (
            f"SELECT ems_ref FROM resources WHERE provider_id = {p} "
            f"AND {self._among('ems_ref')} AND first_seen_at <> {self._ts}"
        )
        self.any_resource = f"SELECT 1 FROM resources WHERE provider_id = {p} LIMIT 1"
        # (resource_seen's columns have names of their own: no column needs its table.)
        self.lookup = (
            "SELECT ems_ref, id, content_hash, deleted_at IS NOT NULL, last_seen_run_id "
            f"FROM resources JOIN resource_seen ON resource_id = id "
            f"WHERE provider_id = {p} AND {self._among('ems_ref')}"
        )
        self.old_values = (
            f"SELECT id, {', '.join(DATA_COLUMNS)}, relationships, "
            f"{', '.join(TRACKING_COLUMNS)} FROM resources JOIN resource_seen ON resource_id = id "
            f"WHERE {self._among('id', 'bigint')}"
        )

    def _seen_now(self, row: str = "") -> str:
        """The SET of ``resource_seen`` for a resource seen again: when, by which run,
        how often (parameters: now, run). ``row``: the table's alias and a dot, if any."""
        return (
            f"last_seen_at = {self._ts}, last_seen_run_id = {self._integer}, "
            f"seen_count = {row}seen_count + 1"
        )

    def _unseen(self, seen: str) -> str:
        """``resource_seen`` (as ``seen``) of a resource the run (the parameter) has
        not seen yet."""
        return f"({seen}.last_seen_run_id IS NULL OR {seen}.last_seen_run_id <> {self.p})"

    def _define_touches(self) -> None:
        """Resources seen again: unchanged ones touched (their ``resource_seen`` row
        alone), changed ones updated."""
        p = self.p
        self.touch = (
            f"UPDATE resource_seen SET {self._seen_now()} "
            f"WHERE {self._among('resource_id', 'bigint')}"
        )
        # A re-collection's unchanged resources: touched by (ems_ref, content hash) in
        # one statement that says which they were; the others are looked up. Same
        # parameters on both: (now, run, the pairs, provider, run).
        if self.is_postgresql:
            # Joined in place: each resource is found once, by the (provider, ems_ref)
            # index, and its resource_seen row by its primary key. A pair given twice
            # updates its row once.
            self.touch_same = (
                f"UPDATE resource_seen s SET {self._seen_now('s.')} FROM resources r, "
                "unnest(CAST(%s AS varchar[]), CAST(%s AS varchar[])) AS b(ref, hash) "
                f"WHERE r.provider_id = {p} AND r.ems_ref = b.ref AND r.content_hash = b.hash "
                f"AND r.deleted_at IS NULL AND s.resource_id = r.id AND {self._unseen('s')} "
                "RETURNING r.ems_ref"
            )
        else:
            # (The pairs drive the join: CROSS JOIN fixes that order on SQLite.)
            self.touch_same = (
                f"UPDATE resource_seen SET {self._seen_now()} WHERE resource_id IN "
                "(SELECT r.id FROM (SELECT value->>0 AS ref, value->>1 AS hash "
                f"FROM json_each(?)) AS b CROSS JOIN resources r ON r.provider_id = {p} "
                "AND r.ems_ref = b.ref AND r.content_hash = b.hash WHERE r.deleted_at IS NULL) "
                f"AND {self._unseen('resource_seen')} RETURNING "
                "(SELECT ems_ref FROM resources WHERE id = resource_seen.resource_id)"
            )
        sets = ", ".join(f"{c} = {p}" for c in (*UPDATE_COLUMNS, *SIGHTING_SETS))
        self.update = f"UPDATE resources SET {sets}, deleted_at = NULL WHERE id = {p}"
        self.update_seen = (
            f"UPDATE resource_seen SET last_seen_at = {p}, last_seen_run_id = {p}, "
            f"seen_count = {p} WHERE resource_id = {p}"
        )

    def _define_deletions(self) -> None:
        """After a complete run: what it did not see is marked deleted, with history."""
        p, ts = self.p, self._ts
        # (parameters: provider, run)
        alive = f"r.provider_id = {p} AND r.deleted_at IS NULL"
        unseen = f"{alive} AND {self._unseen('s')}"
        unseen_rows = f"resources r JOIN resource_seen s ON s.resource_id = r.id WHERE {unseen}"
        self.count_all = f"SELECT count(*) FROM resources WHERE provider_id = {p}"
        self.count_deleted = (
            f"SELECT count(*) FROM resources WHERE provider_id = {p} AND deleted_at IS NOT NULL"
        )
        self.insert_deleted = (
            "INSERT INTO resource_changes (resource_id, run_id, previous_run_id, kind, "
            f"changed_at) SELECT r.id, {self._integer}, s.last_seen_run_id, 'deleted', {ts} "
            f"FROM {unseen_rows}"
        )
        # Ended sightings past retention, of one provider's resources.
        self.prune_sightings = (
            f"DELETE FROM resource_sightings WHERE last_seen_at < {ts} AND resource_id IN "
            f"(SELECT id FROM resources WHERE provider_id = {p})"
        )
        marked = f"UPDATE resources SET deleted_at = {ts}, updated_at = {ts} WHERE id IN "
        self.mark_deleted = f"{marked}(SELECT r.id FROM {unseen_rows})"
        # A targeted run's: only the resources of its types.
        of_types = f"{unseen_rows} AND {self._among('r.resource_type')}"
        self.insert_deleted_of_types = (
            "INSERT INTO resource_changes (resource_id, run_id, previous_run_id, kind, "
            f"changed_at) SELECT r.id, {self._integer}, s.last_seen_run_id, 'deleted', {ts} "
            f"FROM {of_types}"
        )
        self.mark_deleted_of_types = f"{marked}(SELECT r.id FROM {of_types})"

    def insert_values(self, provider_id: int, run_id: int, now: str) -> str:
        """SQLite's insert of Record rows; the values all rows share are literals.

        Binding five fewer parameters per row is measurable at 100,000 rows; the
        literals are integers and a timestamp this module formatted.
        """
        if not _TIMESTAMP.fullmatch(now):
            raise ValueError(f"not a timestamp: {now!r}")
        return self._insert_values % {"pid": provider_id, "run": run_id, "now": now}

    def _among(self, column: str, kind: str = "varchar") -> str:
        """``column`` is one of a list given as one parameter (see ``values``):
        ``= ANY(array)`` on PostgreSQL, planned as index probes; a JSON array of
        scalars expanded by ``json_each`` on SQLite (``db.among``)."""
        return among_sql(column, "%s" if self.is_postgresql else "?", kind, self.is_postgresql)

    def pairs(self, refs: list[str], hashes: list[str]) -> tuple[Any, ...]:
        """The parameters ``touch_same`` expects for its (ems_ref, hash) pairs."""
        if self.is_postgresql:
            return (refs, hashes)
        return (msgspec.json.encode(list(zip(refs, hashes, strict=True))).decode(),)

    def values(self, items: list[Any]) -> Any:
        """The parameter that ``_among`` expects for ``items``."""
        return list_parameter(items, self.is_postgresql)

    def _field(self, index: int, column: str) -> str:
        if not self.is_postgresql:
            return f"r.value->>{index}"  # objects and arrays come back as JSON text
        if column in JSON_COLUMNS:
            return f"NULLIF(r.value->{index}, 'null'::jsonb)"
        if column in _PG_CASTS:
            return f"CAST(r.value->>{index} AS {_PG_CASTS[column]})"
        return f"r.value->>{index}"

    def insert_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: list[Any]
    ) -> None:
        """Plain bulk insert: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""
        names = ", ".join(columns)
        if self.is_postgresql:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
