"""version policies: yanked versions, compatibility overrides, a provider's policy

``plugin_versions`` gains ``yanked`` (with its reason and time) and an administrator's
override of a failed compatibility check (``compatibility_override`` with its reason,
who and when). ``providers`` gains ``plugin_version`` (the policy: an exact version, a
range, or null for the latest compatible), ``used_plugin_version`` (the exact version
its last job ran) and ``previous_plugin_version`` (the one it ran before that changed:
what a rollback returns to). ``action_runs`` record the exact version and digest they
ran, as ``collection_runs`` already do. A provider's ``used_plugin_version`` starts as
the version its latest collection ran.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERSION_COLUMNS = (
    "yanked",
    "yanked_reason",
    "yanked_at",
    "compatibility_override",
    "compatibility_override_reason",
    "compatibility_override_by",
    "compatibility_override_at",
)
_PROVIDER_COLUMNS = ("plugin_version", "used_plugin_version", "previous_plugin_version")


def upgrade() -> None:
    # Plain ALTER TABLE on both backends: a batch copy of ``providers`` on SQLite would
    # drop and recreate a table other tables' cascading foreign keys point at.
    add = op.add_column
    add(
        "plugin_versions",
        sa.Column("yanked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    add("plugin_versions", sa.Column("yanked_reason", sa.Text(), nullable=True))
    add("plugin_versions", sa.Column("yanked_at", sa.DateTime(), nullable=True))
    add("plugin_versions", sa.Column("compatibility_override", sa.Boolean(), nullable=True))
    add("plugin_versions", sa.Column("compatibility_override_reason", sa.Text(), nullable=True))
    add("plugin_versions", sa.Column("compatibility_override_by", sa.String(150), nullable=True))
    add("plugin_versions", sa.Column("compatibility_override_at", sa.DateTime(), nullable=True))
    for name in _PROVIDER_COLUMNS:
        add("providers", sa.Column(name, sa.String(100), nullable=True))
    add("action_runs", sa.Column("plugin_version", sa.String(100), nullable=True))
    add("action_runs", sa.Column("plugin_sha256", sa.String(64), nullable=True))
    op.execute(
        "UPDATE providers SET used_plugin_version = ("
        " SELECT r.plugin_version FROM collection_runs r"
        " WHERE r.provider_id = providers.id AND r.plugin_version IS NOT NULL"
        " ORDER BY r.id DESC LIMIT 1)"
    )


def downgrade() -> None:
    for table, name in (
        ("action_runs", "plugin_sha256"),
        ("action_runs", "plugin_version"),
        *(("providers", name) for name in reversed(_PROVIDER_COLUMNS)),
        *(("plugin_versions", name) for name in reversed(_VERSION_COLUMNS)),
    ):
        op.drop_column(table, name)
