"""resource counts, search index, alive-row indexes: the read paths at a million rows

``resource_counts`` holds how many resources there are per (provider, type, state,
os_type, region, deleted), kept exact by triggers on ``resources`` in the same
transaction as every write, so a list's ``count`` is a sum over a few rows instead
of a scan. Search: each resource's searched text in a trigram index (SQLite: the
FTS5 table ``resources_search``; PostgreSQL: ``resource_search`` under a pg_trgm GIN
index). Writers only queue what they change (``resource_search_queue``, by
triggers); the indexer moves queued rows into the index in bulk, off ingest's path
(a trigram index costs 50-110 µs a row to maintain), and search reads queued rows
directly until then (see inventory.search). Partial indexes over
the rows that are not deleted serve the first pages of the common filters and deep
numbered pages (an offset over a narrow index, not over the rows).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 04:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The searched text, one field per line; JSON address lists as their JSON text.
_SEARCHED = (
    "name",
    "description",
    "ems_ref",
    "canonical_id",
    "fqdn",
    "vendor_type",
    "os_name",
    "cloud_tenant",
    "flavor",
    "ip_addresses",
    "mac_addresses",
)
_JSON_SEARCHED = {"ip_addresses", "mac_addresses"}
_KEY = ("provider_id", "resource_type", "state", "os_type", "region", "deleted")
_ALIVE = "deleted_at IS NULL"
_ALIVE_INDEXES = {
    "ix_resources_alive": "id, provider_id",
    "ix_resources_alive_provider": "provider_id, id",
    "ix_resources_alive_state": "state, id",
    "ix_resources_alive_os_type": "os_type, id",
}


def _text(row: str, postgresql: bool) -> str:
    def field(name: str) -> str:
        value = f"{row}{name}"
        if postgresql and name in _JSON_SEARCHED:
            value = f"CAST({value} AS TEXT)"
        return f"coalesce({value}, '')"

    return " || '\n' || ".join(field(name) for name in _SEARCHED)


def _keys(row: str) -> list[str]:
    """The counted key of a row (``new``, ``old``, an alias), as expressions."""
    return [
        f"{row}.provider_id",
        f"{row}.resource_type",
        f"{row}.state",
        f"coalesce({row}.os_type, '')",
        f"coalesce({row}.region, '')",
        f"{row}.deleted_at IS NOT NULL",
    ]


def _key(row: str) -> str:
    return ", ".join(_keys(row))


def _key_changed() -> str:
    return " OR ".join(
        f"old.{c} IS NOT new.{c}"
        for c in ("provider_id", "resource_type", "state", "os_type", "region", "deleted_at")
    )


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "CREATE TABLE resource_counts ("
        "provider_id INTEGER NOT NULL, resource_type VARCHAR(100) NOT NULL, "
        "state VARCHAR(20) NOT NULL, os_type VARCHAR(100) NOT NULL, "
        "region VARCHAR(100) NOT NULL, deleted BOOLEAN NOT NULL, n BIGINT NOT NULL, "
        f"PRIMARY KEY ({', '.join(_KEY)}))" + ("" if postgresql else " WITHOUT ROWID")
    )
    columns = ", ".join(_KEY)
    op.execute(
        f"INSERT INTO resource_counts ({columns}, n) SELECT {_key('r')}, count(*) "
        "FROM resources r GROUP BY 1, 2, 3, 4, 5, 6"
    )
    for name, columns_of in _ALIVE_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON resources ({columns_of}) WHERE {_ALIVE}")
    if postgresql:
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_sqlite() -> None:
    columns = ", ".join(_KEY)
    conflict = f"ON CONFLICT ({columns}) DO UPDATE SET n = n + 1"
    op.execute(
        "CREATE TRIGGER resource_counts_insert AFTER INSERT ON resources BEGIN "
        f"INSERT INTO resource_counts ({columns}, n) VALUES ({_key('new')}, 1) {conflict}; END"
    )
    op.execute(
        "CREATE TRIGGER resource_counts_delete AFTER DELETE ON resources BEGIN "
        f"UPDATE resource_counts SET n = n - 1 WHERE ({columns}) = ({_key('old')}); END"
    )
    op.execute(
        "CREATE TRIGGER resource_counts_update AFTER UPDATE OF provider_id, resource_type, "
        f"state, os_type, region, deleted_at ON resources WHEN {_key_changed()} BEGIN "
        f"UPDATE resource_counts SET n = n - 1 WHERE ({columns}) = ({_key('old')}); "
        f"INSERT INTO resource_counts ({columns}, n) VALUES ({_key('new')}, 1) {conflict}; END"
    )
    # Search: an FTS5 trigram table, filled from the queue by the indexer, not by the
    # writers. detail=full: a term is a phrase of trigrams, answered from the index
    # alone (detail=none halves the index but must re-read every candidate's text).
    op.execute(
        "CREATE TABLE resource_search_queue (resource_id INTEGER NOT NULL PRIMARY KEY "
        "REFERENCES resources (id) ON DELETE CASCADE) WITHOUT ROWID"
    )
    op.execute("CREATE VIRTUAL TABLE resources_search USING fts5(body, tokenize='trigram')")
    op.execute(
        f"INSERT INTO resources_search (rowid, body) SELECT id, {_text('', False)} FROM resources"
    )
    op.execute(
        "CREATE TRIGGER resources_search_insert AFTER INSERT ON resources BEGIN "
        "INSERT OR IGNORE INTO resource_search_queue (resource_id) VALUES (new.id); END"
    )
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _SEARCHED)
    op.execute(
        f"CREATE TRIGGER resources_search_update AFTER UPDATE OF {', '.join(_SEARCHED)} "
        f"ON resources WHEN {changed} BEGIN "
        "INSERT OR IGNORE INTO resource_search_queue (resource_id) VALUES (new.id); END"
    )
    op.execute(
        "CREATE TRIGGER resources_search_delete AFTER DELETE ON resources BEGIN "
        "DELETE FROM resources_search WHERE rowid = old.id; END"
    )


def _upgrade_postgresql() -> None:
    columns = ", ".join(_KEY)
    # Inserts and deletes: once per statement, over its transition table (ingest
    # inserts a batch per statement). Updates: per row, and only when a counted
    # column changes (a statement trigger cannot name columns, and would copy every
    # row a re-collection touches).
    op.execute(
        "CREATE FUNCTION estate_resource_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN INSERT INTO resource_counts ({columns}, n) "
        f"SELECT {_key('r')}, count(*) FROM added r GROUP BY 1, 2, 3, 4, 5, 6 "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = resource_counts.n + excluded.n; "
        "RETURN NULL; END $$"
    )
    grouped = ", ".join(f"{value} AS k{i}" for i, value in enumerate(_keys("r")))
    matched = " AND ".join(f"c.{column} = g.k{i}" for i, column in enumerate(_KEY))
    op.execute(
        "CREATE FUNCTION estate_resource_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE resource_counts c SET n = c.n - g.n FROM "
        f"(SELECT {grouped}, count(*) AS n FROM removed r GROUP BY 1, 2, 3, 4, 5, 6) g "
        f"WHERE {matched}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN UPDATE resource_counts SET n = n - 1 WHERE ({columns}) = ({_key('OLD')}); "
        f"INSERT INTO resource_counts ({columns}, n) VALUES ({_key('NEW')}, 1) "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = resource_counts.n + 1; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER resource_counts_insert AFTER INSERT ON resources "
        "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
        "EXECUTE FUNCTION estate_resource_counts_added()"
    )
    op.execute(
        "CREATE TRIGGER resource_counts_delete AFTER DELETE ON resources "
        "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
        "EXECUTE FUNCTION estate_resource_counts_removed()"
    )
    changed = " OR ".join(
        f"OLD.{c} IS DISTINCT FROM NEW.{c}"
        for c in ("provider_id", "resource_type", "state", "os_type", "region", "deleted_at")
    )
    op.execute(
        "CREATE TRIGGER resource_counts_update AFTER UPDATE OF provider_id, resource_type, "
        f"state, os_type, region, deleted_at ON resources FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION estate_resource_counts_moved()"
    )
    # Search: resource_search holds each resource's searched text under a pg_trgm
    # GIN index, filled from the queue by the indexer, not by the writers.
    op.execute(
        "CREATE TABLE resource_search_queue (resource_id BIGINT NOT NULL PRIMARY KEY "
        "REFERENCES resources (id) ON DELETE CASCADE)"
    )
    op.execute(
        "CREATE TABLE resource_search (resource_id BIGINT NOT NULL PRIMARY KEY "
        "REFERENCES resources (id) ON DELETE CASCADE, body TEXT NOT NULL)"
    )
    op.execute(
        f"INSERT INTO resource_search (resource_id, body) SELECT id, {_text('', True)} "
        "FROM resources"
    )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_resource_search_body ON resource_search USING gin (body gin_trgm_ops)"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_search_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO resource_search_queue (resource_id) SELECT id FROM added "
        "ON CONFLICT DO NOTHING; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_search_changed() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN INSERT INTO resource_search_queue (resource_id) VALUES (NEW.id) "
        "ON CONFLICT DO NOTHING; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER resources_search_insert AFTER INSERT ON resources "
        "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
        "EXECUTE FUNCTION estate_resource_search_added()"
    )
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _SEARCHED)
    op.execute(
        f"CREATE TRIGGER resources_search_update AFTER UPDATE OF {', '.join(_SEARCHED)} "
        f"ON resources FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION estate_resource_search_changed()"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger in (
        "resource_counts_insert",
        "resource_counts_delete",
        "resource_counts_update",
        "resources_search_insert",
        "resources_search_update",
    ):
        op.execute(f"DROP TRIGGER {trigger}" + (" ON resources" if postgresql else ""))
    if postgresql:
        op.execute("DROP TABLE resource_search")
        for function in (
            "resource_counts_added",
            "resource_counts_removed",
            "resource_counts_moved",
            "resource_search_added",
            "resource_search_changed",
        ):
            op.execute(f"DROP FUNCTION estate_{function}()")
    else:
        op.execute("DROP TRIGGER resources_search_delete")
        op.execute("DROP TABLE resources_search")
    op.execute("DROP TABLE resource_search_queue")
    for name in _ALIVE_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("DROP TABLE resource_counts")
