"""edge totals: resource_counts also sums its resources' edges, so the relationship
list's count is a few rows

``resource_counts.edges`` is the sum of ``relationship_count`` (each resource's
number of outgoing edges, migration 0012) over the resources of its key, kept by the
same triggers as ``n``, in the transaction of every write. The update trigger now
also fires when ``relationships`` changes (a re-collection that changes a resource's
edges; a touch of unchanged resources writes neither). ``resource-relationships/``
counts with it in constant time: it summed every source's edges from
``ix_resources_edges`` (≈ 0.45 s at 1,000,000 resources on SQLite).

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ("provider_id", "resource_type", "state", "os_type", "region", "deleted")
_COUNTED = ("provider_id", "resource_type", "state", "os_type", "region", "deleted_at")
_TRIGGERS = ("resource_counts_insert", "resource_counts_delete", "resource_counts_update")
_FUNCTIONS = ("resource_counts_added", "resource_counts_removed", "resource_counts_moved")


def _keys(row: str) -> list[str]:
    """The counted key of a row (``new``, ``old``, an alias), as migration 0009 has it."""
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


def _edges(row: str) -> str:
    return f"coalesce({row}.relationship_count, 0)"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute("ALTER TABLE resource_counts ADD COLUMN edges BIGINT NOT NULL DEFAULT 0")
    grouped = ", ".join(f"{value} AS k{i}" for i, value in enumerate(_keys("r")))
    matched = " AND ".join(f"resource_counts.{column} = g.k{i}" for i, column in enumerate(_KEY))
    op.execute(
        f"UPDATE resource_counts SET edges = g.e FROM (SELECT {grouped}, "
        f"sum({_edges('r')}) AS e FROM resources r GROUP BY 1, 2, 3, 4, 5, 6) g WHERE {matched}"
    )
    _drop_triggers(postgresql)
    if postgresql:
        _postgresql(with_edges=True)
    else:
        _sqlite(with_edges=True)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    if postgresql:
        _postgresql(with_edges=False)
    else:
        _sqlite(with_edges=False)
    op.execute("ALTER TABLE resource_counts DROP COLUMN edges")


def _drop_triggers(postgresql: bool) -> None:
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}" + (" ON resources" if postgresql else ""))
    if postgresql:
        for function in _FUNCTIONS:
            op.execute(f"DROP FUNCTION estate_{function}()")


def _sqlite(with_edges: bool) -> None:
    """Migration 0009's triggers, with ``edges`` kept beside ``n`` when ``with_edges``."""
    columns = ", ".join(_KEY)
    if with_edges:
        added = f"INSERT INTO resource_counts ({columns}, n, edges) VALUES ({_key('new')}, 1, "
        added += f"{_edges('new')}) ON CONFLICT ({columns}) DO UPDATE SET n = n + 1, "
        added += "edges = edges + excluded.edges"
        removed = f"UPDATE resource_counts SET n = n - 1, edges = edges - {_edges('old')} "
        watched: tuple[str, ...] = (*_COUNTED, "relationships")
        changed = [f"old.{c} IS NOT new.{c}" for c in (*_COUNTED, "relationship_count")]
    else:
        added = f"INSERT INTO resource_counts ({columns}, n) VALUES ({_key('new')}, 1) "
        added += f"ON CONFLICT ({columns}) DO UPDATE SET n = n + 1"
        removed = "UPDATE resource_counts SET n = n - 1 "
        watched = _COUNTED
        changed = [f"old.{c} IS NOT new.{c}" for c in _COUNTED]
    removed += f"WHERE ({columns}) = ({_key('old')})"
    op.execute(
        f"CREATE TRIGGER resource_counts_insert AFTER INSERT ON resources BEGIN {added}; END"
    )
    op.execute(
        f"CREATE TRIGGER resource_counts_delete AFTER DELETE ON resources BEGIN {removed}; END"
    )
    op.execute(
        f"CREATE TRIGGER resource_counts_update AFTER UPDATE OF {', '.join(watched)} "
        f"ON resources WHEN {' OR '.join(changed)} BEGIN {removed}; {added}; END"
    )


def _postgresql(with_edges: bool) -> None:
    """Migration 0009's triggers (statement-level for inserts and deletes, per row for
    updates), with ``edges`` kept beside ``n`` when ``with_edges``."""
    columns = ", ".join(_KEY)
    grouped = ", ".join(f"{value} AS k{i}" for i, value in enumerate(_keys("r")))
    matched = " AND ".join(f"c.{column} = g.k{i}" for i, column in enumerate(_KEY))
    # The fragments that add edges to 0009's statements (none when downgrading).
    e = dict.fromkeys(("into", "sum", "add", "removed", "subtract", "old", "new"), "")
    watched: tuple[str, ...] = _COUNTED
    changed_columns: tuple[str, ...] = _COUNTED
    if with_edges:
        e = {
            "into": ", edges",
            "sum": f", sum({_edges('r')})",
            "add": ", edges = resource_counts.edges + excluded.edges",
            "removed": f", sum({_edges('r')}) AS e",
            "subtract": ", edges = c.edges - g.e",
            "old": f", edges = edges - {_edges('OLD')}",
            "new": f", {_edges('NEW')}",
        }
        watched = (*_COUNTED, "relationships")
        changed_columns = (*_COUNTED, "relationship_count")
    op.execute(
        "CREATE FUNCTION estate_resource_counts_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN INSERT INTO resource_counts ({columns}, n{e['into']}) "
        f"SELECT {_key('r')}, count(*){e['sum']} FROM added r GROUP BY 1, 2, 3, 4, 5, 6 "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = resource_counts.n + excluded.n{e['add']}; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_counts_removed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN UPDATE resource_counts c SET n = c.n - g.n{e['subtract']} FROM "
        f"(SELECT {grouped}, count(*) AS n{e['removed']} FROM removed r "
        f"GROUP BY 1, 2, 3, 4, 5, 6) g WHERE {matched}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION estate_resource_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN UPDATE resource_counts SET n = n - 1{e['old']} "
        f"WHERE ({columns}) = ({_key('OLD')}); "
        f"INSERT INTO resource_counts ({columns}, n{e['into']}) VALUES ({_key('NEW')}, 1{e['new']}) "
        f"ON CONFLICT ({columns}) DO UPDATE SET n = resource_counts.n + 1{e['add']}; "
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
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in changed_columns)
    op.execute(
        f"CREATE TRIGGER resource_counts_update AFTER UPDATE OF {', '.join(watched)} "
        f"ON resources FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION estate_resource_counts_moved()"
    )
