"""login throttle in the database: failures and blocks shared by every service process

``login_failures`` holds one row per refused login and per thing it counts against
(the user name, the client address), ``login_blocks`` the names and addresses
throttled now with their backoff level. Before, each process counted in its memory:
with ``--workers N`` (or several service hosts) a guesser had N times the tries.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_kind_name_at", "login_failures", ["kind", "name", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    op.create_table(
        "login_blocks",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name"),
    )
    op.create_index("ix_login_blocks_blocked_until", "login_blocks", ["blocked_until"])


def downgrade() -> None:
    op.drop_index("ix_login_blocks_blocked_until", table_name="login_blocks")
    op.drop_table("login_blocks")
    op.drop_index("ix_login_failures_at", table_name="login_failures")
    op.drop_index("ix_login_failures_kind_name_at", table_name="login_failures")
    op.drop_table("login_failures")
