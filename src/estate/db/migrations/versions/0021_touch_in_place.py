"""touches in place: on PostgreSQL a run's unchanged resources are heap-only updates

Every run of a provider touches each resource it sees again (``last_seen_at``,
``last_seen_run_id``, ``seen_count``). On PostgreSQL an UPDATE that changes an
indexed column, or finds no room on its row's page, is a new row version with a new
entry in every index of the table (eleven): a re-collection wrote eleven index
entries per unchanged resource, left a dead copy of every row for vacuum, and
competed with the requests for the server's CPU. One that changes no indexed column
and finds room on its page is a heap-only tuple (HOT): no index is written, and the
old version is pruned by the next reader of the page, vacuum or not. So, on
PostgreSQL:

- ``ix_resources_alive_last_seen`` (migration 0017) is dropped: sorting the list by
  ``last_seen_at`` reads the rows that are not deleted and keeps the first page's
  (a parallel scan: 139 ms at 200,000 resources), as for the other unindexed sort
  keys (``updated_at``, ``cpu_count``, …);
- the table's fillfactor is 50: a run rewrites every row it sees, all the rows of a
  page in one transaction, so half of each page is kept for their new versions (at
  85, 14 of 60 touches were HOT). The table is no larger for it than without: each
  run left a dead copy of every row before.

Measured (``bench/ingest.py``, 200,000 resources, a re-collection with 1 % changed):
the re-collection 20.3 → 8.7 s, 199,239 of its 200,000 updates HOT; the database
server's CPU for the load and the re-collection 46.0 → 35.3 s. Pages filled before
this migration have no room until ``VACUUM FULL resources`` rewrites them (or their
rows move as they change).

SQLite updates a row in place and writes only the indexes whose columns changed: the
index stays there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_resources_alive_last_seen", table_name="resources")
    op.execute(f"ALTER TABLE resources SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE resources RESET (fillfactor)")
    op.create_index(
        "ix_resources_alive_last_seen",
        "resources",
        ["last_seen_at", "id"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
