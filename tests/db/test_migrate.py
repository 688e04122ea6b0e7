"""Migrations upgrade data in place, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from conftest import BACKENDS, PG_ADMIN
from estate.db.engine import make_engine
from estate.db.migrate import alembic_config, current, upgrade
from estate.db.models import Resource
from estate.inventory.counts import counted
from estate.inventory.queries import ResourceFilter, resource_query
from estate.inventory.search import index_all, queued
from estate.registry.integrity import list_unlisted
from estate.runtime.integrity import files_digest


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no schema at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'estate.db'}")
        yield engine
        engine.dispose()
        return
    name = f"estate_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN.rpartition("/")
    engine = make_engine(f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}")
    yield engine
    engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_AT_0002 = [
    "INSERT INTO organizations (id, name, description, created_at) "
    "VALUES (1, 'o', '', '2026-01-01 00:00:00')",
    "INSERT INTO providers (id, name, infrastructure, vendor, provider_type, endpoint, "
    "organization_id, connection_config, enabled, created_at, updated_at) "
    "VALUES (1, 'p', '', 'simulated', 'datacenter', '', 1, '{}', true, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    *(
        "INSERT INTO collection_runs (id, provider_id, status, plugin_key, resources_found, "
        "resources_created, resources_updated, resources_unchanged, resources_deleted, "
        "resources_restored, errors, error_details, log, cancel_requested, created_at) "
        f"VALUES ({run}, 1, 'completed', 'simulated:datacenter', 0, 0, 0, 0, 0, 0, 0, "
        "'[]', '', false, '2026-01-01 00:00:00')"
        for run in (1, 2)
    ),
    *(
        "INSERT INTO resources (id, provider_id, ems_ref, resource_type, state, content_hash, "
        "first_seen_at, last_seen_at, last_seen_run_id, updated_at) "
        f"VALUES ({i}, 1, '{ref}', '{kind}', 'active', 'h', "
        "'2026-01-01 00:00:00', '2026-01-02 00:00:00', 2, '2026-01-02 00:00:00')"
        for i, ref, kind in (
            (1, "h0", "hypervisor_host"),
            (2, "h1", "hypervisor_host"),
            (3, "a", "virtual_machine"),
        )
    ),
    *(
        "INSERT INTO resource_changes (id, resource_id, run_id, kind, changes, changed_at) "
        f"VALUES ({i}, {resource}, {run}, '{kind}', {body}, '2026-01-0{run} 00:00:00')"
        for i, resource, run, kind, body in (
            (1, 1, 1, "created", "NULL"),
            (2, 2, 1, "created", "NULL"),
            (3, 3, 1, "created", "NULL"),
            (4, 3, 2, "modified", '\'{"name": {"from": null, "to": "a"}}\''),
        )
    ),
    # a declared runs_on h1 then backs_up h0 (ids say the order); h1 member_of h0.
    *(
        "INSERT INTO resource_relationships (id, provider_id, source_ems_ref, target_ems_ref, "
        f"relationship_type) VALUES ({i}, 1, '{source}', '{target}', '{kind}')"
        for i, source, target, kind in (
            (1, "a", "h1", "runs_on"),
            (2, "h1", "h0", "member_of"),
            (3, "a", "h0", "backs_up"),
        )
    ),
]


def test_0003_moves_edges_and_created_rows_into_the_resource_row(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0002")
    with empty_engine.begin() as conn:
        for statement in _AT_0002:
            conn.execute(text(statement))

    upgrade(empty_engine, "0003")

    assert current(empty_engine) == "0003"
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ems_ref, relationships, first_seen_run_id FROM resources ORDER BY id")
        ).all()
        changes = conn.execute(text("SELECT kind, run_id FROM resource_changes")).all()
        index = conn.execute(
            text("SELECT target_ems_ref, source_ems_ref FROM resource_relationships")
        ).all()
    decoded = {ref: (_json(links), run) for ref, links, run in rows}
    assert decoded == {
        "h0": (None, 1),
        "h1": ([["h0", "member_of"]], 1),
        "a": ([["h1", "runs_on"], ["h0", "backs_up"]], 1),
    }
    assert [tuple(c) for c in changes] == [("modified", 2)]
    assert sorted(tuple(r) for r in index) == [("h0", "a"), ("h0", "h1"), ("h1", "a")]

    command.downgrade(alembic_config(empty_engine), "0002")

    with empty_engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT resource_id, kind FROM resource_changes ORDER BY resource_id, kind")
        ).all()
        edges = conn.execute(
            text(
                "SELECT source_ems_ref, target_ems_ref, relationship_type "
                "FROM resource_relationships ORDER BY id"
            )
        ).all()
    assert [tuple(k) for k in kinds] == [
        (1, "created"),
        (2, "created"),
        (3, "created"),
        (3, "modified"),
    ]
    assert [tuple(e) for e in edges] == [
        ("h1", "h0", "member_of"),
        ("a", "h1", "runs_on"),
        ("a", "h0", "backs_up"),
    ]


def test_0004_gives_each_user_with_an_organization_the_viewer_role_there(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        for organization in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO organizations (id, name, description, created_at) "
                    f"VALUES ({organization}, 'o{organization}', '', '2026-01-01 00:00:00')"
                )
            )
        for user, admin, organization in (
            (1, "true", "1"),
            (2, "false", "2"),
            (3, "false", "NULL"),
        ):
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, is_admin, is_active, "
                    f"organization_id, created_at) VALUES ({user}, 'u{user}', 'h', {admin}, "
                    f"true, {organization}, '2026-01-0{user} 00:00:00')"
                )
            )

    upgrade(empty_engine, "0004")

    assert current(empty_engine) == "0004"
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, organization_id, role FROM memberships ORDER BY user_id")
        ).all()
        kept = conn.execute(text("SELECT organization_id FROM users ORDER BY id")).all()
    # Least privilege: a viewer, whatever the user could do before; system
    # administrators (is_admin) need no role at all. The home organization stays.
    assert [tuple(r) for r in rows] == [(1, 1, "viewer"), (2, 2, "viewer")]
    assert [k[0] for k in kept] == [1, 2, None]

    command.downgrade(alembic_config(empty_engine), "0003")

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 3
    upgrade(empty_engine, "0004")
    assert current(empty_engine) == "0004"


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value


def test_0005_gives_existing_tokens_an_end_and_adds_the_audit_log(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, is_admin, is_active, created_at) "
                "VALUES (1, 'u', 'x', true, true, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) "
                "VALUES (1, 1, 'old', 'h', 'est_abcd', '2026-01-01 00:00:00')"
            )
        )

    upgrade(empty_engine, "0005")

    assert current(empty_engine) == "0005"
    with empty_engine.begin() as conn:
        ends = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO audit_entries (created_at, user_id, username, action, object_type, "
                "client, status, detail) VALUES ('2026-01-01 00:00:00', 1, 'u', 'auth.login', "
                "'users', '127.0.0.1', 200, '')"
            )
        )
    ends = datetime.fromisoformat(ends) if isinstance(ends, str) else ends
    assert ends.replace(tzinfo=None) > datetime.now(UTC).replace(tzinfo=None) + timedelta(days=29)

    command.downgrade(alembic_config(empty_engine), "0003")

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM api_tokens")).scalar_one() == "old"


def test_0008_counts_existing_resources_seen_once_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        for statement in _AT_0002[:7]:  # organization, provider, runs, resources
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO resource_changes (id, resource_id, run_id, kind, changed_at) "
                "VALUES (1, 3, 2, 'deleted', '2026-01-02 00:00:00')"
            )
        )

    upgrade(empty_engine, "0008")

    with empty_engine.begin() as conn:
        counters = conn.execute(
            text("SELECT DISTINCT seen_count, sighting_seen_before, sighting_run_id FROM resources")
        ).all()
        assert [tuple(row) for row in counters] == [(1, 0, None)]
        change = conn.execute(text("SELECT kind, previous_run_id FROM resource_changes")).one()
        assert tuple(change) == ("deleted", None)
        assert conn.execute(text("SELECT count(*) FROM resource_sightings")).scalar_one() == 0

    command.downgrade(alembic_config(empty_engine), "0007")

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM resources")).scalar_one() == 3
        assert conn.execute(text("SELECT count(*) FROM resource_changes")).scalar_one() == 1


def test_0009_counts_and_indexes_existing_resources_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        for statement in _AT_0002[:7]:  # organization, provider, runs, resources
            conn.execute(text(statement))
        # Lower case: today's search reads the index as 0025 keeps it, lowered.
        conn.execute(text("UPDATE resources SET name = 'esxi-' || ems_ref, os_type = 'linux'"))
        conn.execute(text("UPDATE resources SET deleted_at = updated_at WHERE ems_ref = 'a'"))

    upgrade(empty_engine, "0009")

    with empty_engine.begin() as conn:
        counts = conn.execute(
            text(
                "SELECT resource_type, state, os_type, region, deleted, n FROM resource_counts "
                "ORDER BY resource_type"
            )
        ).all()
        assert [tuple(row) for row in counts] == [
            ("hypervisor_host", "active", "linux", "", False, 2),
            ("virtual_machine", "active", "linux", "", True, 1),
        ]
        # What was there is searchable, and the triggers keep what comes after.
        conn.execute(
            text(
                "INSERT INTO resources (id, provider_id, ems_ref, resource_type, state, "
                "name, content_hash, first_seen_at, last_seen_at, updated_at) VALUES (4, 1, "
                "'n', 'virtual_machine', 'active', 'new-one', 'h', '2026-01-03 00:00:00', "
                "'2026-01-03 00:00:00', '2026-01-03 00:00:00')"
            )
        )
    assert queued(empty_engine) == 1  # the new one; what was there is in the index
    session = Session(empty_engine)
    # (ems_refs alone: a Resource row is read with its resource_seen row, from 0026 on)
    found = session.scalars(
        resource_query(ResourceFilter(search="ESXI-h")).with_only_columns(Resource.ems_ref)
    ).all()
    assert sorted(found) == ["h0", "h1"]
    found = session.scalars(
        resource_query(ResourceFilter(search="new-on")).with_only_columns(Resource.ems_ref)
    ).all()
    assert found == ["n"]
    assert counted(session, ResourceFilter()) == 3
    session.close()

    command.downgrade(alembic_config(empty_engine), "0008")

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM resources")).scalar_one() == 4
        tables = inspect(conn).get_table_names()
        assert "resource_counts" not in tables
        assert not [t for t in tables if t.startswith(("resources_search", "resource_search"))]


def test_0012_counts_existing_edges_keeps_them_current_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0011")
    columns = (
        "INSERT INTO resources (id, provider_id, ems_ref, resource_type, state, content_hash, "
        "first_seen_at, last_seen_at, updated_at, relationships) VALUES "
    )
    at = "'2026-01-03 00:00:00'"
    with empty_engine.begin() as conn:
        for statement in _AT_0002[:3]:  # organization, provider, run
            conn.execute(text(statement))
        conn.execute(
            text(
                f"{columns} (1, 1, 'vm', 'virtual_machine', 'active', 'h', {at}, {at}, {at}, "
                """'[["host-1", "runs_on"], ["ds-1", "attached_to"]]'), """
                f"(2, 1, 'host', 'hypervisor_host', 'active', 'h', {at}, {at}, {at}, NULL), "
                f"(3, 1, 'odd', 'network', 'active', 'h', {at}, {at}, {at}, 'null')"
            )
        )

    upgrade(empty_engine, "0012")

    with empty_engine.begin() as conn:
        counts = conn.execute(text("SELECT id, relationship_count FROM resources ORDER BY id"))
        assert [tuple(row) for row in counts] == [(1, 2), (2, None), (3, None)]
        # Generated: a writer changing the edges changes the count with them.
        conn.execute(
            text("""UPDATE resources SET relationships = '[["x", "member_of"]]' WHERE id = 2""")
        )
        assert (
            conn.execute(text("SELECT relationship_count FROM resources WHERE id = 2")).scalar_one()
            == 1
        )
        indexes = {i["name"] for i in inspect(conn).get_indexes("resources")}
        assert "ix_resources_edges" in indexes

    command.downgrade(alembic_config(empty_engine), "0011")

    with empty_engine.connect() as conn:
        assert "relationship_count" not in {
            c["name"] for c in inspect(conn).get_columns("resources")
        }
        assert conn.execute(text("SELECT count(*) FROM resources")).scalar_one() == 3


def test_0013_adds_web_sessions_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0013")
    with empty_engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("web_sessions")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("web_sessions")}

    assert {"token_hash", "csrf_token", "password_mark", "expires_at"} <= columns
    assert {"ix_web_sessions_user_id", "ix_web_sessions_expires_at"} <= indexes

    command.downgrade(alembic_config(empty_engine), "0012")
    with empty_engine.connect() as conn:
        assert "web_sessions" not in inspect(conn).get_table_names()


def test_0014_adds_version_policies_keeps_data_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0013")
    with empty_engine.begin() as conn:
        for statement in _AT_0002[:4]:  # organization, provider, runs 1 and 2
            conn.execute(text(statement))
        conn.execute(text("UPDATE collection_runs SET plugin_version = '1.0.' || id"))
        conn.execute(
            text(
                "INSERT INTO plugin_versions (id, key, vendor, provider_type, version, sha256, "
                "class_path, manifest, source, state, path, install_log, created_at) VALUES "
                "(1, 'simulated:datacenter', 'simulated', 'datacenter', '1.0.2', 'ab', 'p.C', "
                "'{}', 'local', 'ready', '/x', '', '2026-01-01 00:00:00')"
            )
        )

    upgrade(empty_engine, "0014")

    with empty_engine.connect() as conn:
        provider = conn.execute(
            text(
                "SELECT plugin_version, used_plugin_version, previous_plugin_version "
                "FROM providers WHERE id = 1"
            )
        ).one()
        version = conn.execute(
            text("SELECT yanked, yanked_reason, compatibility_override FROM plugin_versions")
        ).one()
        action_columns = {c["name"] for c in inspect(conn).get_columns("action_runs")}
    # The provider's last run says which version it used: a rollback's starting point.
    assert tuple(provider) == (None, "1.0.2", None)
    assert (bool(version[0]), version[1], version[2]) == (False, None, None)
    assert {"plugin_version", "plugin_sha256"} <= action_columns

    command.downgrade(alembic_config(empty_engine), "0013")
    with empty_engine.connect() as conn:
        assert "yanked" not in {c["name"] for c in inspect(conn).get_columns("plugin_versions")}
        assert "plugin_version" not in {c["name"] for c in inspect(conn).get_columns("providers")}
        assert conn.execute(text("SELECT count(*) FROM plugin_versions")).scalar_one() == 1


def test_0015_adds_file_lists_and_the_keyring_and_the_next_start_lists_old_versions(
    empty_engine: Engine, tmp_path: Path
) -> None:
    upgrade(empty_engine, "0013")
    folder = tmp_path / "1.0.0-abc" / "plugin"
    folder.mkdir(parents=True)
    (folder / "provider.py").write_text("X = 1\n")
    (folder / "manifest.yml").write_text("name: x\n")
    with empty_engine.begin() as conn:
        for row, (key, path) in enumerate(
            [("a:b", folder.parent), ("gone:away", tmp_path / "missing")], start=1
        ):
            conn.execute(
                text(
                    "INSERT INTO plugin_versions (id, key, vendor, provider_type, version, sha256, "
                    "class_path, manifest, source, state, path, install_log, created_at) "
                    f"VALUES ({row}, '{key}', 'a', 'b', '1.0.0', 'x', 'provider.P', '{{}}', "
                    f"'local', 'ready', '{path}', '', '2026-01-01 00:00:00')"
                )
            )

    upgrade(empty_engine, "0015")

    with empty_engine.connect() as conn:
        statuses = conn.execute(
            text("SELECT signature_status, trust, files FROM plugin_versions ORDER BY id")
        ).all()
        assert "signing_keys" in inspect(conn).get_table_names()
    assert [tuple(s) for s in statuses] == [("unsigned", "unsigned", None)] * 2
    upgrade(empty_engine)  # the models are the head's: the start that lists them runs at head
    with Session(empty_engine) as session:
        assert list_unlisted(session) == 2
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT files, files_digest, signature_status FROM plugin_versions ORDER BY id")
        ).all()
    listed, gone = ((_json(files), digest, status) for files, digest, status in rows)
    assert listed[0] == {
        "manifest.yml": hashlib.sha256(b"name: x\n").hexdigest(),
        "provider.py": hashlib.sha256(b"X = 1\n").hexdigest(),
    }
    assert (listed[1], listed[2]) == (files_digest(listed[0]), "unsigned")
    assert gone == ({}, None, "modified")

    command.downgrade(alembic_config(empty_engine), "0013")
    with empty_engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("plugin_versions")}
        assert "signing_keys" not in inspect(conn).get_table_names()
    assert not {"files", "signature", "signature_status", "trust"} & columns


def test_0016_adds_the_shared_login_throttle_and_downgrades(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0016")
    with empty_engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        blocks = {c["name"] for c in inspect(conn).get_columns("login_blocks")}

    assert {"login_failures", "login_blocks"} <= tables
    assert {"kind", "name", "blocked_until", "level"} <= blocks

    command.downgrade(alembic_config(empty_engine), "0015")
    with empty_engine.connect() as conn:
        assert not {"login_failures", "login_blocks"} & set(inspect(conn).get_table_names())


def test_0017_adds_the_sort_indexes_over_live_resources_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0017")
    with empty_engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("resources")}
        plan = " ".join(
            str(row)
            for row in conn.execute(
                text(
                    ("EXPLAIN QUERY PLAN " if empty_engine.dialect.name == "sqlite" else "EXPLAIN ")
                    + "SELECT id FROM resources WHERE deleted_at IS NULL "
                    "ORDER BY name DESC, id DESC LIMIT 50"
                )
            )
        )

    assert indexes["ix_resources_alive_name"] == ["name", "id"]
    assert indexes["ix_resources_alive_type"] == ["resource_type", "id"]
    assert indexes["ix_resources_alive_last_seen"] == ["last_seen_at", "id"]
    if empty_engine.dialect.name == "sqlite":  # an empty table: PostgreSQL would scan it
        assert "ix_resources_alive_name" in plan and "TEMP B-TREE" not in plan, plan

    command.downgrade(alembic_config(empty_engine), "0016")
    with empty_engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("resources")}
        assert not {"ix_resources_alive_name", "ix_resources_alive_type"} & names


def test_0018_adds_plugin_repositories_keeps_versions_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0017")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO plugin_versions (id, key, vendor, provider_type, version, sha256, "
                "class_path, manifest, source, state, path, install_log, signature_status, "
                "trust, created_at, yanked) VALUES (1, 'hot:load', 'hot', 'load', '1.0.0', "
                "'ab', 'p:P', '{}', 'local', 'ready', '/x', '', 'unsigned', 'unsigned', "
                "'2026-01-01 00:00:00', false)"
            )
        )
    upgrade(empty_engine, "0018")
    with empty_engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        kept = conn.execute(text("SELECT key, source, repository FROM plugin_versions")).all()
        cached = {c["name"] for c in inspect(conn).get_columns("remote_plugin_versions")}

    assert {"plugin_repositories", "remote_plugin_versions"} <= tables
    assert kept == [("hot:load", "local", None)]
    assert {"repository_id", "sha256", "archive_url", "signature"} <= cached

    command.downgrade(alembic_config(empty_engine), "0017")
    with empty_engine.connect() as conn:
        assert "plugin_repositories" not in inspect(conn).get_table_names()
        columns = {c["name"] for c in inspect(conn).get_columns("plugin_versions")}
        assert "repository" not in columns


# Resources with edges (migration 0012 on), a time, a column of two edges.
_WITH_EDGES = (
    "INSERT INTO resources (id, provider_id, ems_ref, resource_type, state, content_hash, "
    "first_seen_at, last_seen_at, updated_at, deleted_at, relationships) VALUES "
)
_AT = "'2026-01-03 00:00:00'"
_TWO_EDGES = """'[["host-1", "runs_on"], ["ds-1", "attached_to"]]'"""


def test_0020_sums_existing_edges_keeps_them_current_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0018")
    columns, at, two = _WITH_EDGES, _AT, _TWO_EDGES
    with empty_engine.begin() as conn:
        for statement in _AT_0002[:3]:  # organization, provider, run
            conn.execute(text(statement))
        conn.execute(
            text(
                f"{columns} (1, 1, 'vm-1', 'virtual_machine', 'active', 'h', {at}, {at}, {at}, "
                f"NULL, {two}), "
                f"(2, 1, 'vm-2', 'virtual_machine', 'active', 'h', {at}, {at}, {at}, NULL, {two}), "
                f"(3, 1, 'gone', 'virtual_machine', 'active', 'h', {at}, {at}, {at}, {at}, {two}), "
                f"(4, 1, 'host', 'hypervisor_host', 'active', 'h', {at}, {at}, {at}, NULL, NULL)"
            )
        )

    def edges(conn: Any) -> dict[tuple[str, bool], int]:
        rows = conn.execute(text("SELECT resource_type, deleted, edges FROM resource_counts"))
        return {(kind, bool(deleted)): n for kind, deleted, n in rows if n}

    upgrade(empty_engine, "0020")

    with empty_engine.begin() as conn:
        assert edges(conn) == {("virtual_machine", False): 4, ("virtual_machine", True): 2}
        # The triggers keep it: edges changed, a resource deleted, restored, inserted.
        conn.execute(text("""UPDATE resources SET relationships = '[["x", "member_of"]]' """
                          "WHERE id = 4"))  # fmt: skip
        conn.execute(text("UPDATE resources SET relationships = NULL WHERE id = 1"))
        conn.execute(text(f"UPDATE resources SET deleted_at = {at} WHERE id = 2"))
        conn.execute(text("UPDATE resources SET deleted_at = NULL WHERE id = 3"))
        conn.execute(
            text(
                f"{columns} (5, 1, 'vm-5', 'virtual_machine', 'active', 'h', {at}, {at}, {at}, "
                f"NULL, {two})"
            )
        )
        assert edges(conn) == {
            ("hypervisor_host", False): 1,
            ("virtual_machine", False): 4,
            ("virtual_machine", True): 2,
        }
        conn.execute(text("DELETE FROM resources WHERE id IN (2, 5)"))
        assert edges(conn) == {("hypervisor_host", False): 1, ("virtual_machine", False): 2}

    command.downgrade(alembic_config(empty_engine), "0018")

    with empty_engine.begin() as conn:
        assert "edges" not in {c["name"] for c in inspect(conn).get_columns("resource_counts")}
        # 0009's triggers are back: counts still kept.
        conn.execute(text("DELETE FROM resources WHERE id = 4"))
        kept = conn.execute(text("SELECT sum(n) FROM resource_counts WHERE NOT deleted"))
        assert kept.scalar_one() == 2


def test_0021_keeps_room_for_touches_on_postgresql_and_downgrades(empty_engine: Engine) -> None:
    postgresql = empty_engine.dialect.name == "postgresql"

    def state() -> tuple[set[str], str]:
        with empty_engine.connect() as conn:
            names = {i["name"] for i in inspect(conn).get_indexes("resources") if i["name"]}
            options = (
                conn.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'resources'"))
                if postgresql
                else None
            )
        return names, str(options)

    upgrade(empty_engine, "0021")
    names, options = state()
    # On PostgreSQL no index holds last seen, and half of each page is kept free; SQLite
    # keeps the sort index (its touches write only the indexes of changed columns).
    assert ("ix_resources_alive_last_seen" in names) is not postgresql
    assert ("fillfactor=50" in options) is postgresql

    command.downgrade(alembic_config(empty_engine), "0020")
    names, options = state()
    assert "ix_resources_alive_last_seen" in names
    assert "fillfactor" not in options


def test_0022_sums_existing_resources_per_block_keeps_them_current_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0021")
    columns, at, two = _WITH_EDGES, _AT, _TWO_EDGES

    def row(resource_id: int, deleted: str = "NULL", edges: str = "NULL") -> str:
        return (
            f"({resource_id}, 1, 'r-{resource_id}', 'virtual_machine', 'active', 'h', {at}, "
            f"{at}, {at}, {deleted}, {edges})"
        )

    with empty_engine.begin() as conn:
        for statement in _AT_0002[:3]:  # organization, provider, run
            conn.execute(text(statement))
        # Block 0: ids 1, 2 (one deleted); block 2: ids 8192, 8193.
        conn.execute(
            text(columns + ", ".join([row(1, edges=two), row(2, at, two), row(8192), row(8193)]))
        )

    def blocks(conn: Any) -> dict[tuple[int, bool], tuple[int, int]]:
        rows = conn.execute(text("SELECT block, deleted, n, edges FROM resource_blocks"))
        return {(block, bool(deleted)): (n, edges) for block, deleted, n, edges in rows if n}

    upgrade(empty_engine, "0022")

    with empty_engine.begin() as conn:
        assert blocks(conn) == {(0, False): (1, 2), (0, True): (1, 2), (2, False): (2, 0)}
        # The triggers keep it: a deletion, a restore, edges changed, an insert into
        # a new block, a row removed.
        conn.execute(text(f"UPDATE resources SET deleted_at = {at} WHERE id = 8192"))
        conn.execute(text("UPDATE resources SET deleted_at = NULL WHERE id = 2"))
        conn.execute(text(f"UPDATE resources SET relationships = {two} WHERE id = 8193"))
        conn.execute(text(columns + row(4096 * 5 + 7, edges=two)))
        conn.execute(text("DELETE FROM resources WHERE id = 1"))
        assert blocks(conn) == {
            (0, False): (1, 2),
            (2, False): (1, 2),
            (2, True): (1, 0),
            (5, False): (1, 2),
        }

    command.downgrade(alembic_config(empty_engine), "0021")

    with empty_engine.begin() as conn:
        assert "resource_blocks" not in inspect(conn).get_table_names()
        conn.execute(text(columns + row(9)))  # no trigger names the table any more
        assert conn.execute(text("SELECT count(*) FROM resources")).scalar_one() == 5


def test_0023_copies_provider_and_life_onto_tags_keeps_them_current_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0022")
    columns, at = _WITH_EDGES, _AT

    def row(resource_id: int, deleted: str = "NULL") -> str:
        return (
            f"({resource_id}, 1, 'r-{resource_id}', 'virtual_machine', 'active', 'h', {at}, "
            f"{at}, {at}, {deleted}, NULL)"
        )

    with empty_engine.begin() as conn:
        for statement in _AT_0002[:2]:  # organization, provider
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO providers (id, name, infrastructure, vendor, provider_type, "
                "endpoint, organization_id, connection_config, enabled, created_at, updated_at) "
                "VALUES (2, 'q', '', 'simulated', 'datacenter', '', 1, '{}', true, "
                f"{at}, {at})"
            )
        )
        conn.execute(text(columns + ", ".join([row(1), row(2, at), row(3)])))
        conn.execute(
            text(
                "INSERT INTO tags (id, organization_id, namespace, key, value, created_at) "
                f"VALUES (1, 1, 'n', 'k', 'v', {at})"
            )
        )
        conn.execute(text("INSERT INTO resource_tags VALUES (1, 1), (2, 1)"))

    def copies(conn: Any) -> dict[int, tuple[int, bool]]:
        rows = conn.execute(text("SELECT resource_id, provider_id, alive FROM resource_tags"))
        return {i: (provider, bool(alive)) for i, provider, alive in rows}

    upgrade(empty_engine, "0023")

    with empty_engine.begin() as conn:
        assert copies(conn) == {1: (1, True), 2: (1, False)}
        # The triggers keep them: a tag put on, a deletion, a restore, a move, and a
        # resource removed takes its tags along.
        conn.execute(text("INSERT INTO resource_tags (resource_id, tag_id) VALUES (3, 1)"))
        conn.execute(text(f"UPDATE resources SET deleted_at = {at} WHERE id = 1"))
        conn.execute(text("UPDATE resources SET deleted_at = NULL WHERE id = 2"))
        conn.execute(text("UPDATE resources SET provider_id = 2 WHERE id = 3"))
        assert copies(conn) == {1: (1, False), 2: (1, True), 3: (2, True)}
        conn.execute(text("DELETE FROM resources WHERE id = 2"))
        assert copies(conn) == {1: (1, False), 3: (2, True)}
        indexed = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("resource_tags")}
        assert indexed["ix_resource_tags_tag"] == ["tag_id", "alive", "provider_id", "resource_id"]

    command.downgrade(alembic_config(empty_engine), "0022")

    with empty_engine.begin() as conn:
        assert {c["name"] for c in inspect(conn).get_columns("resource_tags")} == {
            "resource_id",
            "tag_id",
        }
        conn.execute(text("DELETE FROM resource_tags WHERE resource_id = 3"))
        conn.execute(text("INSERT INTO resource_tags VALUES (3, 1)"))  # no trigger is left
        conn.execute(text("UPDATE resources SET deleted_at = NULL WHERE id = 1"))
        assert conn.execute(text("SELECT count(*) FROM resource_tags")).scalar_one() == 2


def _searched_vms(engine: Engine, refs: list[str], indexed: int) -> tuple[str, str]:
    """An organization, a provider and a virtual machine of each ems_ref (ids 1, 2, …),
    the first ``indexed`` of them in the search index (their ems_ref its text) and no
    longer queued; the index's table and key column."""
    postgresql = engine.dialect.name == "postgresql"
    index, key = ("resource_search", "resource_id") if postgresql else ("resources_search", "rowid")
    with engine.begin() as conn:
        for statement in _AT_0002[:2]:  # organization, provider
            conn.execute(text(statement))
        conn.execute(
            text(
                _WITH_EDGES
                + ", ".join(
                    f"({i}, 1, '{ref}', 'virtual_machine', 'active', 'h', {_AT}, {_AT}, "
                    f"{_AT}, NULL, NULL)"
                    for i, ref in enumerate(refs, 1)
                )
            )
        )
        for i, ref in enumerate(refs[:indexed], 1):
            conn.execute(text(f"INSERT INTO {index} ({key}, body) VALUES ({i}, '{ref}')"))
            conn.execute(text(f"DELETE FROM resource_search_queue WHERE resource_id = {i}"))
    return index, key


def test_0024_lets_a_trigger_not_keys_follow_deletions_and_downgrades(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0023")
    postgresql = empty_engine.dialect.name == "postgresql"
    index, key = _searched_vms(empty_engine, ["vm-1", "vm-2", "vm-3"], indexed=2)

    def rows(conn: Any) -> tuple[list[int], list[int]]:
        queue = conn.scalars(text("SELECT resource_id FROM resource_search_queue ORDER BY 1"))
        return list(queue), list(conn.scalars(text(f"SELECT {key} FROM {index} ORDER BY 1")))

    def keys(conn: Any) -> list[str]:
        return [
            table
            for table in ("resource_search_queue", "resource_search")
            if table in inspect(conn).get_table_names()
            for foreign in inspect(conn).get_foreign_keys(table)
            if foreign["referred_table"] == "resources"
        ]

    upgrade(empty_engine, "0024")

    with empty_engine.begin() as conn:
        assert rows(conn) == ([3], [1, 2])
        assert keys(conn) == ([] if postgresql else ["resource_search_queue"])
        # One statement deleting an indexed and a queued resource: both rows go.
        conn.execute(text("DELETE FROM resources WHERE id IN (2, 3)"))
        assert rows(conn) == ([], [1])
        if postgresql:  # an orphan (an indexer that raced a deletion): harmless, kept
            conn.execute(text(f"INSERT INTO {index} ({key}, body) VALUES (7, 'gone')"))

    command.downgrade(alembic_config(empty_engine), "0023")

    with empty_engine.begin() as conn:
        assert rows(conn) == ([], [1])  # the orphan removed, so that the key holds
        assert keys(conn) == (
            ["resource_search_queue", "resource_search"]
            if postgresql
            else ["resource_search_queue"]
        )
        conn.execute(text("DELETE FROM resources WHERE id = 1"))  # the keys follow again
        assert rows(conn) == ([], [])


def test_0025_queues_every_indexed_text_to_be_written_again_lowered(empty_engine: Engine) -> None:
    """PostgreSQL's index is to hold its texts lowered: the upgrade queues every
    indexed resource, for the indexers to write again (searches read a queued row's
    own text meanwhile), and the indexers write them lowered. SQLite's FTS5 index is
    case-insensitive already: nothing is queued. Going back changes nothing."""
    upgrade(empty_engine, "0024")
    postgresql = empty_engine.dialect.name == "postgresql"
    index, key = _searched_vms(empty_engine, ["VM-1", "VM-2"], indexed=2)

    def queue(conn: Any) -> list[int]:
        return list(conn.scalars(text("SELECT resource_id FROM resource_search_queue ORDER BY 1")))

    upgrade(empty_engine, "0025")

    with empty_engine.begin() as conn:
        assert queue(conn) == ([1, 2] if postgresql else [])
    assert index_all(empty_engine) == (2 if postgresql else 0)
    with empty_engine.begin() as conn:
        bodies = list(conn.scalars(text(f"SELECT body FROM {index} ORDER BY {key}")))
        if postgresql:  # written again from the rows: their ems_refs, lowered
            assert ["vm-1" in bodies[0], "vm-2" in bodies[1]] == [True, True]
            assert all(b == b.lower() for b in bodies)
        else:
            assert bodies == ["VM-1", "VM-2"]

    command.downgrade(alembic_config(empty_engine), "0024")

    with empty_engine.begin() as conn:
        assert queue(conn) == []
        assert len(list(conn.scalars(text(f"SELECT body FROM {index}")))) == 2


def test_0026_moves_last_seen_to_a_table_apart_fills_it_on_insert_and_downgrades(
    empty_engine: Engine,
) -> None:
    """Each resource's last seen, its run and its seen count leave the resource row for
    ``resource_seen``, as they were; a resource inserted afterwards gets its row from
    its first sighting, and a deleted one loses it. Going back restores the columns."""
    upgrade(empty_engine, "0025")
    postgresql = empty_engine.dialect.name == "postgresql"
    _searched_vms(empty_engine, ["vm-1", "vm-2"], indexed=0)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE resources SET last_seen_run_id = 7, seen_count = 3 WHERE id = 2"))

    def seen(conn: Any) -> list[tuple[Any, ...]]:
        rows = conn.execute(
            text(
                "SELECT resource_id, last_seen_at, last_seen_run_id, seen_count "
                "FROM resource_seen ORDER BY 1"
            )
        )
        return [(i, str(at)[:10], run, count) for i, at, run, count in rows]

    def shape(conn: Any) -> tuple[set[str], set[str], str]:
        columns = {c["name"] for c in inspect(conn).get_columns("resources")}
        indexes = {
            i["name"]
            for table in ("resources", "resource_seen")
            if table in inspect(conn).get_table_names()
            for i in inspect(conn).get_indexes(table)
        }
        options = (
            conn.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'resources'"))
            if postgresql
            else None
        )
        return columns & {"last_seen_at", "last_seen_run_id", "seen_count"}, indexes, str(options)

    upgrade(empty_engine, "0026")

    with empty_engine.begin() as conn:
        assert seen(conn) == [(1, "2026-01-03", None, 1), (2, "2026-01-03", 7, 3)]
        moved, indexes, options = shape(conn)
        assert moved == set()
        assert ("ix_resource_seen_last_seen" in indexes) is not postgresql
        assert "ix_resources_alive_last_seen" not in indexes
        assert "fillfactor" not in options  # the touches no longer write resource rows
        conn.execute(
            text(
                "INSERT INTO resources (id, provider_id, ems_ref, resource_type, state, "
                "content_hash, first_seen_run_id, first_seen_at, updated_at) VALUES "
                "(3, 1, 'vm-3', 'virtual_machine', 'active', 'h', 9, '2026-01-04 00:00:00', "
                "'2026-01-04 00:00:00'), (4, 1, 'vm-4', 'virtual_machine', 'active', 'h', 9, "
                "'2026-01-04 00:00:00', '2026-01-04 00:00:00')"
            )
        )
        conn.execute(text("DELETE FROM resources WHERE id = 1"))
        assert seen(conn) == [
            (2, "2026-01-03", 7, 3),
            (3, "2026-01-04", 9, 1),
            (4, "2026-01-04", 9, 1),
        ]

    command.downgrade(alembic_config(empty_engine), "0025")

    with empty_engine.begin() as conn:
        rows = conn.execute(
            text("SELECT id, last_seen_at, last_seen_run_id, seen_count FROM resources ORDER BY 1")
        )
        assert [(i, str(at)[:10], run, count) for i, at, run, count in rows] == [
            (2, "2026-01-03", 7, 3),
            (3, "2026-01-04", 9, 1),
            (4, "2026-01-04", 9, 1),
        ]
        moved, indexes, options = shape(conn)
        assert moved == {"last_seen_at", "last_seen_run_id", "seen_count"}
        assert "resource_seen" not in inspect(conn).get_table_names()
        assert ("ix_resources_alive_last_seen" in indexes) is not postgresql
        assert ("fillfactor=50" in options) is postgresql
