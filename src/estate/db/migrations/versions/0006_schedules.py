"""schedules and targeted collections

``collection_schedules``: cron schedules that start a provider's collections.
``collection_runs``: ``collection_type`` (full | targeted), ``target_resource_types``
and ``trigger`` (who or what started the run: ``user:<name>``, ``schedule:<id>``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "collection_runs",
        sa.Column("collection_type", sa.String(length=16), nullable=False, server_default="full"),
    )
    op.add_column("collection_runs", sa.Column("target_resource_types", JSON, nullable=True))
    op.add_column(
        "collection_runs",
        sa.Column("trigger", sa.String(length=100), nullable=False, server_default=""),
    )
    op.create_table(
        "collection_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cron_expression", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_skipped_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["last_run_id"], ["collection_runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_collection_schedules_provider_id", "collection_schedules", ["provider_id"])
    op.create_index(
        "ix_collection_schedules_due", "collection_schedules", ["enabled", "next_run_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_collection_schedules_due", table_name="collection_schedules")
    op.drop_index("ix_collection_schedules_provider_id", table_name="collection_schedules")
    op.drop_table("collection_schedules")
    with op.batch_alter_table("collection_runs", schema=None) as batch_op:
        batch_op.drop_column("trigger")
        batch_op.drop_column("target_resource_types")
        batch_op.drop_column("collection_type")
