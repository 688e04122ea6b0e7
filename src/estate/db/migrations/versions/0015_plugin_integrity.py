"""plugin integrity: each version's file list, signature and trust; the signing keyring

``plugin_versions`` gains ``files`` (relative path → sha256 of each of the plugin's
files), ``files_digest`` (the sha256 of that list), ``signature`` (key id, algorithm,
signature, signed digest; null when unsigned), ``signature_status`` (valid | invalid |
modified | unsigned) and ``trust`` (managed | trusted | unsigned). Versions stored
before keep ``files`` null: the first start after the upgrade lists their files as they
are then (``registry.integrity.list_unlisted``; one that cannot be read is
``modified``), since a migration should not read plugin folders. ``signing_keys``
holds the Ed25519 public keys signatures are checked against.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("plugin_versions") as batch:
        batch.add_column(sa.Column("files", _JSON, nullable=True))
        batch.add_column(sa.Column("files_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signature", _JSON, nullable=True))
        batch.add_column(
            sa.Column(
                "signature_status",
                sa.String(length=20),
                nullable=False,
                server_default="unsigned",
            )
        )
        batch.add_column(
            sa.Column("trust", sa.String(length=20), nullable=False, server_default="unsigned")
        )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )
    op.create_index("ix_signing_keys_organization_id", "signing_keys", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_signing_keys_organization_id", table_name="signing_keys")
    op.drop_table("signing_keys")
    with op.batch_alter_table("plugin_versions") as batch:
        for column in ("trust", "signature_status", "signature", "files_digest", "files"):
            batch.drop_column(column)
