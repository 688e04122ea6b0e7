"""sort indexes: the resources table sorted by name, type or last seen, fast at any size

Partial indexes over the rows that are not deleted (what the lists show), in id order
within each value, as ``ix_resources_alive_state`` has it for the state: the web UI's
table sorted by one of these columns reads the first page's entries off the index
instead of sorting every row (3 s at 1,000,000 resources on SQLite, before).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_resources_alive_name": ["name", "id"],
    "ix_resources_alive_type": ["resource_type", "id"],
    "ix_resources_alive_last_seen": ["last_seen_at", "id"],
}


def upgrade() -> None:
    alive = sa.text("deleted_at IS NULL")
    for name, columns in INDEXES.items():
        op.create_index(name, "resources", columns, sqlite_where=alive, postgresql_where=alive)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="resources")
