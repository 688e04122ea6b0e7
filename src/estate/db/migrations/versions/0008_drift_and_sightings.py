"""drift feed indexes, compact sightings, seen_count

``resource_changes`` gets ``previous_run_id`` and the two indexes of the change feed
(``(run_id, id)`` replaces ``run_id``; ``changed_at``). ``resources`` gets
``seen_count`` and the start of its current sighting; ``resource_sightings`` holds
only the sightings that ended (see models.ResourceSighting). Existing resources
start with ``seen_count`` 1: how many runs saw them before is not known.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy of resources.
    op.add_column(
        "resources", sa.Column("seen_count", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("resources", sa.Column("sighting_run_id", sa.Integer(), nullable=True))
    op.add_column("resources", sa.Column("sighting_at", sa.DateTime(), nullable=True))
    op.add_column(
        "resources",
        sa.Column("sighting_seen_before", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("resource_changes", sa.Column("previous_run_id", sa.Integer(), nullable=True))
    op.drop_index("ix_resource_changes_run_id", table_name="resource_changes")
    op.create_index("ix_resource_changes_run_id_id", "resource_changes", ["run_id", "id"])
    op.create_index("ix_resource_changes_changed_at", "resource_changes", ["changed_at"])
    op.create_table(
        "resource_sightings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("resource_id", _ID, nullable=False),
        sa.Column("seen_before", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("seen_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("power_state", sa.String(length=100), nullable=True),
        sa.Column("boot_time", sa.String(length=64), nullable=True),
        sa.Column("cpu_count", sa.Integer(), nullable=True),
        sa.Column("memory_mb", sa.BigInteger(), nullable=True),
        sa.Column("disk_gb", sa.Float(), nullable=True),
        sa.Column("metrics", _JSON, nullable=True),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_id", "seen_before", name="uq_resource_sightings_ordinal"),
    )
    op.create_index("ix_resource_sightings_last_seen_at", "resource_sightings", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_resource_sightings_last_seen_at", table_name="resource_sightings")
    op.drop_table("resource_sightings")
    op.drop_index("ix_resource_changes_changed_at", table_name="resource_changes")
    op.drop_index("ix_resource_changes_run_id_id", table_name="resource_changes")
    op.create_index("ix_resource_changes_run_id", "resource_changes", ["run_id"])
    # Not batch mode: on SQLite that copies the table, and dropping the old copy of
    # resources cascades to resource_changes. SQLite has had DROP COLUMN since 3.35.
    op.execute("ALTER TABLE resource_changes DROP COLUMN previous_run_id")
    for column in ("sighting_seen_before", "sighting_at", "sighting_run_id", "seen_count"):
        op.execute(f"ALTER TABLE resources DROP COLUMN {column}")
