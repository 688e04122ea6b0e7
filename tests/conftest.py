"""Fixtures: the real service on SQLite and on PostgreSQL, real child processes.

Tests that take ``client`` run once per backend. PostgreSQL is the server on
127.0.0.1:5432; when it cannot be reached the tests fail (never skip), unless
``ESTATE_TEST_BACKENDS=sqlite`` says to leave it out on purpose (ignored when
``ESTATE_REQUIRE_BACKENDS=1``, as in CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from estate.api.app import create_app
from estate.config import Settings
from estate.db.engine import make_engine
from estate.db.migrate import upgrade
from estate.registry.managed import plugin_folders
from estate.registry.manifest import parse_manifest
from estate.runtime.environments import build_requirements_environment, managed_requirements

REPO = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "test-admin-password"
SECRET_KEY = Fernet.generate_key().decode()
PG_ADMIN = os.environ.get("ESTATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("ESTATE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
if os.environ.get("ESTATE_REQUIRE_BACKENDS") == "1":
    # CI: every backend runs, whatever the environment says; a missing one fails.
    BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "estate.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A migrated database of its own on the local PostgreSQL, dropped at the end."""
    name = f"estate_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN} ({exc}); start it "
            "(.ci/run does) or set ESTATE_TEST_BACKENDS=sqlite to test SQLite only"
        )
    base, _, _ = PG_ADMIN.rpartition("/")
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    """Every table the migrations made, the models' and the raw ones (the search
    index's, which no foreign key reaches since 0024), but the revision's."""
    engine = make_engine(url)
    with engine.begin() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def service_env(
    backend: str, request: pytest.FixtureRequest, environments_dir: Path
) -> dict[str, str]:
    """The environment of an ``estate serve`` child process on ``backend`` (a
    PostgreSQL database emptied first; SQLite in the process's data directory)."""
    env = {
        "ESTATE_SECRET_KEY": SECRET_KEY,
        "ESTATE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ESTATE_BUILTIN_PLUGINS_DIR": str(REPO / "plugins"),
        "ESTATE_ENVIRONMENTS_DIR": str(environments_dir),
    }
    if backend == "postgresql":
        url = request.getfixturevalue("postgresql_url")
        _truncate(url)
        env["ESTATE_DATABASE_URL"] = url
    return env


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        path = tmp_path / "estate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgresql_url")
    _truncate(url)
    return url


@pytest.fixture(scope="session")
def environments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin environments of the whole session: the SDK-only one (made on first
    use) and one per built-in plugin with requirements, built here once, so that every
    test's service finds its built-in plugins ready instead of preparing them."""
    root = tmp_path_factory.mktemp("environments")
    settings = Settings(data_dir=root / "unused", environments_dir=root)
    for folder in plugin_folders(REPO / "plugins"):
        manifest = parse_manifest((folder / "manifest.yml").read_bytes())
        requirements = managed_requirements(folder, manifest.model_dump(mode="json"))
        if requirements is not None:
            build_requirements_environment(settings, requirements)
    return root


@pytest.fixture
def settings(tmp_path: Path, database_url: str, environments_dir: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        environments_dir=environments_dir,
        database_url=database_url,
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET_KEY,
        builtin_plugins_dir=REPO / "plugins",
        run_timeout=60,
        call_timeout=20,
        start_timeout=20,
        workers=2,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real ASGI app, started (migrations, admin, managed plugins), logged in as admin."""
    with TestClient(create_app(settings)) as test_client:
        test_client.auth = ("admin", ADMIN_PASSWORD)
        yield test_client


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    """The same app without credentials."""
    return TestClient(client.app)
