"""tags and watchlists: user labels on resources, lists of resources to watch

``tags`` (per organization, unique by namespace/key/value) and ``resource_tags``;
``watchlists`` (static or dynamic) and ``watchlist_resources`` (a static one's
members). Every link cascades with its resource, so collections never touch them
and a resource's tags and memberships leave with it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "namespace", "key", "value"),
    )
    op.create_index("ix_tags_organization_id", "tags", ["organization_id"])
    op.create_table(
        "resource_tags",
        sa.Column("resource_id", _BIG_ID, nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_id", "tag_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resource_tags_tag", "resource_tags", ["tag_id", "resource_id"])
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("watchlist_type", sa.String(length=16), nullable=False),
        sa.Column("filter_query", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watchlists_organization_id", "watchlists", ["organization_id"])
    op.create_table(
        "watchlist_resources",
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", _BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("watchlist_id", "resource_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_watchlist_resources_resource", "watchlist_resources", ["resource_id"])


def downgrade() -> None:
    op.drop_index("ix_watchlist_resources_resource", table_name="watchlist_resources")
    op.drop_table("watchlist_resources")
    op.drop_index("ix_watchlists_organization_id", table_name="watchlists")
    op.drop_table("watchlists")
    op.drop_index("ix_resource_tags_tag", table_name="resource_tags")
    op.drop_table("resource_tags")
    op.drop_index("ix_tags_organization_id", table_name="tags")
    op.drop_table("tags")
