"""a resource's last seen, its run and its seen count move to a table of their own

Every run of a provider touches each resource it sees again: ``last_seen_at``,
``last_seen_run_id`` and ``seen_count`` change for every one, and nothing else of
most. In the resource row that is a new version of the whole row (~1.3 kB at a
million on PostgreSQL, every page of the table rewritten by each run, a run's WAL
the size of the table after a checkpoint); in ``resource_seen`` (one row of four
numbers per resource) it is a new version of 40 bytes. Measured on a million
resources (PostgreSQL, 200,000 touched): 1.27 s and 183 MB of WAL in ``resources``,
0.25 s and 27 MB in a table of the three columns.

- ``resource_seen`` (``resource_id`` the primary key, deleted with its resource:
  by its foreign key on SQLite, by a statement trigger on PostgreSQL, where a key's
  check would read and lock the resource for every row inserted) holds one row per
  resource, filled here from the resources and then by a trigger on every insert
  into ``resources`` (from the row's ``first_seen_*``: a new resource was last seen
  when it was first seen, by one run). PostgreSQL keeps half of each of its pages
  free (fillfactor 50): touches are heap-only updates.
- ``resources`` loses the three columns, and on PostgreSQL gets back the default
  fillfactor (migration 0021 kept half of each page free for the touches that now
  go elsewhere; pages already written keep their room until rewritten). On SQLite
  the web UI's sort index on ``last_seen_at`` moves with the column.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50  # resource_seen's (and, before this migration, resources')
_COLUMNS = "last_seen_at, last_seen_run_id, seen_count"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # (PostgreSQL: no foreign key, whose check reads and locks the resource for every
    # row inserted; a statement trigger deletes the rows of deleted resources, as for
    # the search index's tables, migration 0024.)
    if postgresql:
        key, stamp = "resource_id BIGINT NOT NULL PRIMARY KEY", "TIMESTAMP WITHOUT TIME ZONE"
        options = f" WITH (fillfactor = {FILLFACTOR})"
    else:
        key = "resource_id INTEGER NOT NULL PRIMARY KEY REFERENCES resources (id) ON DELETE CASCADE"
        stamp, options = "DATETIME", ""
    op.execute(
        f"CREATE TABLE resource_seen ({key}, last_seen_at {stamp} NOT NULL, "
        f"last_seen_run_id INTEGER, seen_count INTEGER DEFAULT 1 NOT NULL){options}"
    )
    op.execute(
        f"INSERT INTO resource_seen (resource_id, {_COLUMNS}) "
        f"SELECT id, {_COLUMNS} FROM resources ORDER BY id"
    )
    if postgresql:
        op.execute(
            "CREATE FUNCTION estate_resource_seen_added() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN INSERT INTO resource_seen (resource_id, {_COLUMNS}) "
            "SELECT id, first_seen_at, first_seen_run_id, 1 FROM added ORDER BY id; "
            "RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER resource_seen_insert AFTER INSERT ON resources "
            "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
            "EXECUTE FUNCTION estate_resource_seen_added()"
        )
        op.execute(
            "CREATE FUNCTION estate_resource_seen_removed() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN DELETE FROM resource_seen WHERE resource_id IN "
            "(SELECT id FROM removed); RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER resource_seen_delete AFTER DELETE ON resources "
            "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
            "EXECUTE FUNCTION estate_resource_seen_removed()"
        )
        op.execute("ALTER TABLE resources RESET (fillfactor)")
    else:
        op.execute(
            "CREATE TRIGGER resource_seen_insert AFTER INSERT ON resources BEGIN "
            f"INSERT INTO resource_seen (resource_id, {_COLUMNS}) "
            "VALUES (new.id, new.first_seen_at, new.first_seen_run_id, 1); END"
        )
        op.drop_index("ix_resources_alive_last_seen", table_name="resources")
        op.create_index(
            "ix_resource_seen_last_seen", "resource_seen", ["last_seen_at", "resource_id"]
        )
    for column in ("last_seen_at", "last_seen_run_id", "seen_count"):
        op.execute(f"ALTER TABLE resources DROP COLUMN {column}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE resources ADD COLUMN last_seen_at TIMESTAMP WITHOUT TIME ZONE")
    else:  # SQLite adds a NOT NULL column only with a default
        op.execute(
            "ALTER TABLE resources ADD COLUMN last_seen_at DATETIME NOT NULL "
            "DEFAULT '1970-01-01 00:00:00.000000'"
        )
    op.execute("ALTER TABLE resources ADD COLUMN last_seen_run_id INTEGER")
    op.execute("ALTER TABLE resources ADD COLUMN seen_count INTEGER DEFAULT 1 NOT NULL")
    op.execute(
        f"UPDATE resources SET ({_COLUMNS}) = (SELECT {_COLUMNS} FROM resource_seen s "
        "WHERE s.resource_id = resources.id)"
    )
    if postgresql:
        op.execute("ALTER TABLE resources ALTER COLUMN last_seen_at SET NOT NULL")
        for trigger, function in (("insert", "added"), ("delete", "removed")):
            op.execute(f"DROP TRIGGER resource_seen_{trigger} ON resources")
            op.execute(f"DROP FUNCTION estate_resource_seen_{function}()")
        op.execute(f"ALTER TABLE resources SET (fillfactor = {FILLFACTOR})")
    else:
        op.execute("DROP TRIGGER resource_seen_insert")
        op.create_index(
            "ix_resources_alive_last_seen",
            "resources",
            ["last_seen_at", "id"],
            sqlite_where=sa.text("deleted_at IS NULL"),
        )
    op.execute("DROP TABLE resource_seen")
