"""the search index's tables follow resources by a trigger, not by foreign keys

PostgreSQL only. ``resource_search_queue`` and ``resource_search`` referenced
``resources`` with ``ON DELETE CASCADE``: every queued and every indexed row had its
key checked, a per-row trigger that reads and locks the resource (``FOR KEY SHARE``).
Measured at 200,000 resources: queueing them all 1.6 s with the key, 0.45 s without
(a first collection queues each new resource), and the check was 60 % of writing a
batch of texts before its trigrams. One statement trigger now removes both tables'
rows of the resources a statement deletes. A row left without its resource can only
come from an indexer racing a deletion (``lock_out_indexers`` keeps them apart); it
is harmless either way: a search reads ids through ``resources``, PostgreSQL never
reuses an id, and the indexer drops a queued id whose resource is gone.

SQLite keeps its key on the queue (a rowid lookup, ~1 µs) and its FTS5 table's
delete trigger (migration 0009).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("resource_search_queue", "resource_search")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_resource_id_fkey")
    removed = "SELECT id FROM removed"
    op.execute(
        "CREATE FUNCTION estate_resource_search_removed() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN DELETE FROM resource_search_queue WHERE resource_id IN ({removed}); "
        f"DELETE FROM resource_search WHERE resource_id IN ({removed}); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER resources_search_delete AFTER DELETE ON resources "
        "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
        "EXECUTE FUNCTION estate_resource_search_removed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER resources_search_delete ON resources")
    op.execute("DROP FUNCTION estate_resource_search_removed()")
    for table in _TABLES:
        # NOT EXISTS, an anti-join: a NOT IN over a million ids too big to hash in
        # work_mem would scan them again for every row.
        op.execute(
            f"DELETE FROM {table} t WHERE NOT EXISTS "
            "(SELECT 1 FROM resources r WHERE r.id = t.resource_id)"
        )
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_resource_id_fkey FOREIGN KEY "
            "(resource_id) REFERENCES resources (id) ON DELETE CASCADE"
        )
