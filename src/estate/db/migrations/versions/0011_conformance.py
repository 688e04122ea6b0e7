"""conformance: what each plugin version defined, the conformance runs against it,
and the action run an event was published in

``plugin_versions.definition`` keeps the plugin's own ``define`` answer about its
actions and profiles (the catalog's source; null for versions recorded before, which
start-up defines again). ``conformance_runs`` holds each run of the conformance suite
through the service and its report (see models.ConformanceRun).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("plugin_versions") as batch:
        batch.add_column(sa.Column("definition", _JSON, nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("action_run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_events_action_run_id", "action_runs", ["action_run_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_events_action_run_id", ["action_run_id"])
    op.create_table(
        "conformance_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin_key", sa.String(length=200), nullable=False),
        sa.Column("plugin_version", sa.String(length=100), nullable=False),
        sa.Column("plugin_sha256", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("profiles", _JSON, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("suite_version", sa.String(length=20), nullable=False),
        sa.Column("platform", sa.String(length=300), nullable=False),
        sa.Column("checks_done", sa.Integer(), nullable=False),
        sa.Column("checks_failed", sa.Integer(), nullable=False),
        sa.Column("report", _JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["plugin_versions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_conformance_runs_key_version", "conformance_runs", ["plugin_key", "plugin_version"]
    )


def downgrade() -> None:
    op.drop_table("conformance_runs")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_action_run_id")
        batch.drop_constraint("fk_events_action_run_id", type_="foreignkey")
        batch.drop_column("action_run_id")
    with op.batch_alter_table("plugin_versions") as batch:
        batch.drop_column("definition")
