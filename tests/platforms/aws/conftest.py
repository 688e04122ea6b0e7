"""Fixtures of the aws:aws plugin's tests: one moto server for the session, reset per test.

moto checks no credentials unless a test asks it to (``MotoServer.require_credentials``);
every test starts from an empty moto that accepts any key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.moto import MotoServer, moto_server


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
def plugin_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "plugins" / "aws" / "aws"
