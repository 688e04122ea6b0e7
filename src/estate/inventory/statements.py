"""The SQL of ingest, per dialect.

A batch travels to the database as one JSON array parameter and the database
expands it (``json_each`` on SQLite, ``jsonb_array_elements`` on PostgreSQL). The
per-row work then runs inside the database engine, with Python's GIL released,
instead of binding dozens of parameters per row in Python.

A batch row is ``[ems_ref, *DATA_COLUMNS values, content_hash, [[target, type], …]]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from .records import DATA_COLUMNS, JSON_COLUMNS

INSERT_COLUMNS = (
    "provider_id",
    "ems_ref",
    *DATA_COLUMNS,
    "content_hash",
    "first_seen_at",
    "last_seen_at",
    "last_seen_run_id",
    "updated_at",
)
UPDATE_COLUMNS = (*DATA_COLUMNS, "content_hash", "last_seen_at", "last_seen_run_id", "updated_at")
CHANGE_COLUMNS = ("resource_id", "run_id", "kind", "changes", "changed_at")
RELATIONSHIP_COLUMNS = ("provider_id", "source_ems_ref", "target_ems_ref", "relationship_type")
HASH_INDEX = 1 + len(DATA_COLUMNS)
LINKS_INDEX = HASH_INDEX + 1
_PG_CASTS = {"cpu_count": "bigint", "memory_mb": "bigint", "disk_gb": "double precision"}


class Statements:
    """Every statement ingest runs, with the driver's placeholders and casts."""

    def __init__(self, dialect: str) -> None:
        self.is_postgresql = pg = dialect == "postgresql"
        self.p = p = "%s" if pg else "?"
        ts = "CAST(%s AS timestamp)" if pg else "?"
        integer = "CAST(%s AS integer)" if pg else "?"
        rows = "jsonb_array_elements(CAST(%s AS jsonb)) AS r(value)" if pg else "json_each(?) AS r"
        fields = ", ".join(self._field(i + 1, column) for i, column in enumerate(DATA_COLUMNS))
        self.insert_batch = (
            f"INSERT INTO resources ({', '.join(INSERT_COLUMNS)}) "
            f"SELECT {integer}, r.value->>0, {fields}, r.value->>{HASH_INDEX}, {ts}, {ts}, {integer}, {ts} "
            f"FROM {rows} ON CONFLICT (provider_id, ems_ref) DO NOTHING"
        )
        links = (
            f"jsonb_array_elements(r.value->{LINKS_INDEX}) AS e(value)"
            if pg
            else f"json_each(r.value, '$[{LINKS_INDEX}]') AS e"
        )
        self.insert_links = (
            f"INSERT INTO resource_relationships ({', '.join(RELATIONSHIP_COLUMNS)}) "
            f"SELECT {integer}, r.value->>0, e.value->>0, e.value->>1 FROM {rows}, {links}"
        )
        # Only rows this batch inserted (first seen at its timestamp) get "created".
        self.insert_created = (
            "INSERT INTO resource_changes (resource_id, run_id, kind, changed_at) "
            f"SELECT id, {integer}, 'created', {ts} FROM resources "
            f"WHERE provider_id = {p} AND {self._among('ems_ref')} AND first_seen_at = {ts}"
        )
        self.earlier = (
            f"SELECT ems_ref FROM resources WHERE provider_id = {p} "
            f"AND {self._among('ems_ref')} AND first_seen_at <> {ts}"
        )
        self.any_resource = f"SELECT 1 FROM resources WHERE provider_id = {p} LIMIT 1"
        self.insert_values = (
            f"INSERT INTO resources ({', '.join(INSERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))}) "
            "ON CONFLICT (provider_id, ems_ref) DO NOTHING"
        )
        self.lookup = (
            "SELECT ems_ref, id, content_hash, deleted_at IS NOT NULL, last_seen_run_id "
            f"FROM resources WHERE provider_id = {p} AND {self._among('ems_ref')}"
        )
        self.touch = (
            f"UPDATE resources SET last_seen_at = {ts}, last_seen_run_id = {p} "
            f"WHERE {self._among('id', 'bigint')}"
        )
        sets = ", ".join(f"{c} = {p}" for c in UPDATE_COLUMNS)
        self.update = f"UPDATE resources SET {sets}, deleted_at = NULL WHERE id = {p}"
        self.old_values = f"SELECT id, {', '.join(DATA_COLUMNS)} FROM resources WHERE {self._among('id', 'bigint')}"
        self.old_links = (
            "SELECT source_ems_ref, target_ems_ref, relationship_type FROM resource_relationships "
            f"WHERE provider_id = {p} AND {self._among('source_ems_ref')} ORDER BY id"
        )
        self.drop_links = (
            f"DELETE FROM resource_relationships WHERE provider_id = {p} "
            f"AND {self._among('source_ems_ref')}"
        )
        unseen = (
            f"provider_id = {p} AND deleted_at IS NULL "
            f"AND (last_seen_run_id IS NULL OR last_seen_run_id <> {p})"
        )
        self.insert_deleted = (
            "INSERT INTO resource_changes (resource_id, run_id, kind, changed_at) "
            f"SELECT id, {integer}, 'deleted', {ts} FROM resources WHERE {unseen}"
        )
        self.mark_deleted = (
            f"UPDATE resources SET deleted_at = {ts}, updated_at = {ts} WHERE {unseen}"
        )

    def _among(self, column: str, kind: str = "varchar") -> str:
        """``column`` is one of a list given as one parameter (see ``values``).

        PostgreSQL plans ``= ANY(array)`` as index probes; SQLite expands a JSON
        array of scalars without re-parsing anything.
        """
        if self.is_postgresql:
            # The array has the column's own type, or the index cannot be used.
            return f"{column} = ANY(CAST(%s AS {kind}[]))"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def values(self, items: list[Any]) -> Any:
        """The parameter that ``_among`` expects for ``items``."""
        return items if self.is_postgresql else msgspec.json.encode(items).decode()

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
