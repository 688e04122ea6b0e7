"""relationships in the resource row, created derived from it

A resource's own relationships move into ``resources.relationships`` (a JSON array of
``[target_ems_ref, relationship_type]`` pairs, in the order the plugin sent them);
``resource_relationships`` stays as the reverse index only, keyed by target. The
``created`` history rows become ``resources.first_seen_run_id`` (with the existing
``first_seen_at``): history derives its ``created`` entry from the resource row, so a
first collection writes one row per resource instead of five.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy of resources (see downgrade).
    op.add_column("resources", sa.Column("first_seen_run_id", sa.Integer(), nullable=True))
    op.add_column("resources", sa.Column("relationships", _JSON, nullable=True))
    op.create_index(
        "ix_resources_deleted",
        "resources",
        ["provider_id"],
        sqlite_where=sa.text("deleted_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )

    postgresql_ = op.get_bind().dialect.name == "postgresql"
    if postgresql_:
        pairs = (
            "SELECT jsonb_agg(jsonb_build_array(l.target_ems_ref, l.relationship_type) "
            "ORDER BY l.id) FROM resource_relationships l"
        )
    else:
        pairs = (
            "SELECT json_group_array(json_array(o.target_ems_ref, o.relationship_type)) "
            "FROM (SELECT l.target_ems_ref, l.relationship_type FROM resource_relationships l"
        )
    match = "l.provider_id = resources.provider_id AND l.source_ems_ref = resources.ems_ref"
    if postgresql_:
        fill = f"({pairs} WHERE {match})"
    else:
        fill = f"({pairs} WHERE {match} ORDER BY l.id) AS o)"
    op.execute(
        f"UPDATE resources SET relationships = {fill} "
        "WHERE EXISTS (SELECT 1 FROM resource_relationships l "
        f"WHERE {match})"
    )
    op.execute(
        "UPDATE resources SET first_seen_run_id = (SELECT max(c.run_id) FROM resource_changes c "
        "WHERE c.resource_id = resources.id AND c.kind = 'created')"
    )
    op.execute("DELETE FROM resource_changes WHERE kind = 'created'")

    with op.batch_alter_table("resource_relationships", schema=None) as batch_op:
        batch_op.drop_index("ix_relationships_target")
        batch_op.drop_index("ix_relationships_source")
    op.drop_table("resource_relationships")
    op.create_table(
        "resource_relationships",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("target_ems_ref", sa.String(length=500), nullable=False),
        sa.Column("source_ems_ref", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("provider_id", "target_ems_ref", "source_ems_ref"),
        sqlite_with_rowid=False,
    )
    if postgresql_:
        targets, target = "jsonb_array_elements(r.relationships) AS e(value)", "e.value->>0"
    else:
        targets, target = "json_each(r.relationships) AS e", "e.value->>0"
    op.execute(
        "INSERT INTO resource_relationships (provider_id, target_ems_ref, source_ems_ref) "
        f"SELECT DISTINCT r.provider_id, {target}, r.ems_ref FROM resources r, {targets} "
        "WHERE r.relationships IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_resources_deleted", table_name="resources")
    op.drop_table("resource_relationships")
    op.create_table(
        "resource_relationships",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("source_ems_ref", sa.String(length=500), nullable=False),
        sa.Column("target_ems_ref", sa.String(length=500), nullable=False),
        sa.Column("relationship_type", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resource_relationships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relationships_source", ["provider_id", "source_ems_ref"], unique=False
        )
        batch_op.create_index(
            "ix_relationships_target", ["provider_id", "target_ems_ref"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        edges = "jsonb_array_elements(r.relationships) WITH ORDINALITY AS e(value, n)"
        position = "e.n"
    else:
        edges, position = "json_each(r.relationships) AS e", "e.key"
    op.execute(
        "INSERT INTO resource_relationships "
        "(provider_id, source_ems_ref, target_ems_ref, relationship_type) "
        "SELECT r.provider_id, r.ems_ref, e.value->>0, e.value->>1 "
        f"FROM resources r, {edges} WHERE r.relationships IS NOT NULL ORDER BY r.id, {position}"
    )
    # The created rows come back after the others: history shows them first until
    # the next change (history is ordered by id).
    op.execute(
        "INSERT INTO resource_changes (resource_id, run_id, kind, changed_at) "
        "SELECT id, first_seen_run_id, 'created', first_seen_at FROM resources ORDER BY id"
    )
    # Not batch mode: on SQLite that copies the table, and dropping the old copy
    # cascades to resource_changes. SQLite has had DROP COLUMN since 3.35.
    op.execute("ALTER TABLE resources DROP COLUMN relationships")
    op.execute("ALTER TABLE resources DROP COLUMN first_seen_run_id")
