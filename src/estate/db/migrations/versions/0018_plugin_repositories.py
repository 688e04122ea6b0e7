"""remote plugin repositories: registered sources, what each offered, where a version came from

``plugin_repositories`` holds the remote sources a system administrator registered
(another Estate or a static index; the token sealed with the secret box), with the
outcome of their last sync. ``remote_plugin_versions`` caches each repository's index as
of its last successful sync (replaced as a whole by the next one). ``plugin_versions``
gains ``repository``: the name of the repository a ``remote`` version was installed from.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "plugin_repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(), nullable=True),
        sa.Column("last_sync_status", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "remote_plugin_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("provider_type", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("prerelease", sa.Boolean(), nullable=False),
        sa.Column("yanked", sa.Boolean(), nullable=False),
        sa.Column("yanked_reason", sa.Text(), nullable=True),
        sa.Column("requires_estate", sa.String(length=200), nullable=True),
        sa.Column("protocol_versions", _JSON, nullable=True),
        sa.Column("files_digest", sa.String(length=64), nullable=True),
        sa.Column("signature", _JSON, nullable=True),
        sa.Column("archive_url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["plugin_repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repository_id", "key", "version"),
    )
    op.create_index(
        "ix_remote_plugin_versions_repository_id", "remote_plugin_versions", ["repository_id"]
    )
    op.create_index("ix_remote_plugin_versions_key", "remote_plugin_versions", ["key"])
    with op.batch_alter_table("plugin_versions") as batch:
        batch.add_column(sa.Column("repository", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plugin_versions") as batch:
        batch.drop_column("repository")
    op.drop_index("ix_remote_plugin_versions_key", table_name="remote_plugin_versions")
    op.drop_index("ix_remote_plugin_versions_repository_id", table_name="remote_plugin_versions")
    op.drop_table("remote_plugin_versions")
    op.drop_table("plugin_repositories")
