"""The database failing under a running service: 503 JSON problems, ping 503, no crash."""

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from conftest import ADMIN_PASSWORD, PG_ADMIN
from estate.api.app import create_app
from estate.config import Settings
from estate.db.engine import make_engine
from estate.db.migrate import upgrade
from factories import API


def _pg(statement: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def own_postgresql() -> Iterator[tuple[str, str]]:
    """``(name, url)`` of a migrated PostgreSQL database of this test's own."""
    name = f"estate_fault_{uuid.uuid4().hex[:10]}"
    _pg(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN.rpartition("/")
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield name, url
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _client(settings: Settings, url: str) -> TestClient:
    client = TestClient(create_app(Settings(**{**settings.model_dump(), "database_url": url})))
    client.auth = ("admin", ADMIN_PASSWORD)
    return client


def _assert_unavailable(response: object, reason: str) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    assert detail.startswith("the database is unavailable: "), detail
    assert reason in detail
    for leak in ("SELECT", "FROM", "[SQL", "parameters", "psycopg", "sqlite3"):
        assert leak not in detail


def test_a_dropped_postgresql_database_answers_503_and_the_service_recovers(
    settings: Settings, own_postgresql: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, url = own_postgresql
    with _client(settings, url) as client:
        assert client.get(f"{API}/providers/").status_code == 200

        _pg(f'DROP DATABASE "{name}" WITH (FORCE)')
        with caplog.at_level(logging.ERROR, logger="estate.api.faults"):
            listed = client.get(f"{API}/providers/")
        ping = client.get(f"{API}/ping/")

        _assert_unavailable(listed, "")
        assert ping.status_code == 503
        assert ping.json()["status"] == "unavailable"
        assert ping.json()["detail"].startswith("the database is unavailable: ")
        assert any("GET /api/inventory/v1/providers/" in r.getMessage() for r in caplog.records)

        _pg(f'CREATE DATABASE "{name}"')
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        assert client.get(f"{API}/ping/").status_code == 200
        # A new, empty database: the service answers again (its admin is not in it).
        assert client.get(f"{API}/providers/").status_code == 401


def test_postgresql_connections_terminated_under_the_service_are_survived(
    settings: Settings, own_postgresql: tuple[str, str]
) -> None:
    name, url = own_postgresql
    with _client(settings, url) as client:
        assert client.get(f"{API}/providers/").status_code == 200

        _pg(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )

        # The pool pings before reuse: a terminated connection is replaced, not a 500.
        assert client.get(f"{API}/providers/").status_code == 200
        assert client.get(f"{API}/ping/").status_code == 200


def test_a_sqlite_file_that_is_no_database_any_more_answers_503(
    settings: Settings, tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    with _client(settings, f"sqlite:///{path}") as client:
        assert client.get(f"{API}/providers/").status_code == 200
        client.app.state.context.dispose()  # type: ignore[attr-defined]

        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(b"this is not a database file, just text" * 200)

        _assert_unavailable(client.get(f"{API}/providers/"), "missing or damaged")
        ping = client.get(f"{API}/ping/")
        assert ping.status_code == 503
        assert "missing or damaged" in ping.json()["detail"]


def test_a_removed_sqlite_file_answers_503_not_migrated(
    settings: Settings, tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    with _client(settings, f"sqlite:///{path}") as client:
        assert client.get(f"{API}/providers/").status_code == 200
        client.app.state.context.dispose()  # type: ignore[attr-defined]

        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

        _assert_unavailable(client.get(f"{API}/providers/"), "not migrated")
        ping = client.get(f"{API}/ping/")
        assert ping.status_code == 503
        assert "estate db upgrade" in ping.json()["detail"]


def test_ping_answers_503_when_the_schema_is_not_at_head(client: TestClient) -> None:
    engine = client.app.state.context.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        ping = client.get(f"{API}/ping/")
    finally:  # the PostgreSQL database is shared by the session's tests
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})

    assert ping.status_code == 503
    assert ping.json()["detail"].startswith("the database schema is at revision older, not ")
    assert client.get(f"{API}/ping/").status_code == 200
