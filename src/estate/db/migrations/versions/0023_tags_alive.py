"""tags carry their resource's provider and life, so a tag's list is one index range

``resource_tags`` gains ``provider_id`` and ``alive`` (the resource's provider, and
whether it is not deleted), kept by triggers: set from ``resources`` when a tag is
put on a resource, and rewritten when a resource is deleted, restored or moves. The
index on (tag, alive, provider, resource) replaces the one on (tag, resource). A
list filtered by tags alone (and by provider and the caller's organizations) then
counts and pages its ids from that index, where it probed ``resources`` once per
tagged resource (4,000 probes, ~27 ms on PostgreSQL at 1,000,000 resources).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 11:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WATCHED = ("provider_id", "deleted_at")
_OF_RESOURCE = "SELECT r.provider_id, r.deleted_at IS NULL FROM resources r WHERE r.id = {}"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    true = "true" if postgresql else "1"
    op.execute("ALTER TABLE resource_tags ADD COLUMN provider_id INTEGER NOT NULL DEFAULT 0")
    op.execute(f"ALTER TABLE resource_tags ADD COLUMN alive BOOLEAN NOT NULL DEFAULT {true}")
    op.execute(
        "UPDATE resource_tags SET (provider_id, alive) = "
        f"({_OF_RESOURCE.format('resource_tags.resource_id')})"
    )
    op.execute("DROP INDEX ix_resource_tags_tag")
    op.execute(
        "CREATE INDEX ix_resource_tags_tag ON resource_tags "
        "(tag_id, alive, provider_id, resource_id)"
    )
    if postgresql:
        _postgresql()
    else:
        _sqlite()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER resource_tags_of_resource ON resource_tags")
        op.execute("DROP TRIGGER resource_tags_follow ON resources")
        op.execute("DROP FUNCTION estate_resource_tags_of_resource()")
        op.execute("DROP FUNCTION estate_resource_tags_follow()")
    else:
        op.execute("DROP TRIGGER resource_tags_of_resource")
        op.execute("DROP TRIGGER resource_tags_follow")
    op.execute("DROP INDEX ix_resource_tags_tag")
    op.execute("CREATE INDEX ix_resource_tags_tag ON resource_tags (tag_id, resource_id)")
    op.execute("ALTER TABLE resource_tags DROP COLUMN alive")
    op.execute("ALTER TABLE resource_tags DROP COLUMN provider_id")


def _sqlite() -> None:
    op.execute(
        "CREATE TRIGGER resource_tags_of_resource AFTER INSERT ON resource_tags BEGIN "
        f"UPDATE resource_tags SET (provider_id, alive) = ({_OF_RESOURCE.format('new.resource_id')}) "
        "WHERE resource_id = new.resource_id AND tag_id = new.tag_id; END"
    )
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _WATCHED)
    op.execute(
        f"CREATE TRIGGER resource_tags_follow AFTER UPDATE OF {', '.join(_WATCHED)} "
        f"ON resources WHEN {changed} BEGIN UPDATE resource_tags SET "
        "provider_id = new.provider_id, alive = new.deleted_at IS NULL "
        "WHERE resource_id = new.id; END"
    )


def _postgresql() -> None:
    op.execute(
        "CREATE FUNCTION estate_resource_tags_of_resource() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {_OF_RESOURCE.format('NEW.resource_id')} INTO NEW.provider_id, NEW.alive; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER resource_tags_of_resource BEFORE INSERT ON resource_tags "
        "FOR EACH ROW EXECUTE FUNCTION estate_resource_tags_of_resource()"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_tags_follow() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE resource_tags SET provider_id = NEW.provider_id, "
        "alive = NEW.deleted_at IS NULL WHERE resource_id = NEW.id; RETURN NULL; END $$"
    )
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _WATCHED)
    op.execute(
        f"CREATE TRIGGER resource_tags_follow AFTER UPDATE OF {', '.join(_WATCHED)} "
        f"ON resources FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION estate_resource_tags_follow()"
    )
