"""Fixtures of the aws:aws plugin's tests: one moto server for the session, reset per test.

moto checks no credentials unless a test asks it to (``MotoServer.require_credentials``);
every test starts from an empty moto that accepts any key.

The service runs on SQLite only here: these tests are about the plugin and the
platform, each collection costs a plugin process and seconds of emulator work, and
ingest, history and deletion are tested on both databases in tests/inventory and
tests/api.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.moto import MotoServer, moto_server


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only (see the module docstring), overriding the two-backend fixture."""
    path = tmp_path / "estate.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def moto_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """The moto server of the whole session (started in about a second)."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    try:
        with moto_server(log=log) as server:
            yield server
    except RuntimeError as exc:  # never a skip: CI must have moto (make platforms)
        pytest.fail(f"moto cannot start: {exc}")


@pytest.fixture
def moto(moto_process: MotoServer) -> Iterator[MotoServer]:
    """The session's moto, emptied, accepting any credentials."""
    moto_process.reset()
    yield moto_process
    moto_process.reset()


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """moto reached the way an operator points boto3 anywhere: ``AWS_ENDPOINT_URL`` in
    the environment (a plugin child inherits it), seed 000's payload left as it is."""
    for name in [n for n in os.environ if n.startswith("AWS_") or n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    return moto
