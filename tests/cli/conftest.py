"""Fixtures for the ``estate`` command: one real service for all its tests, a clean environment.

The tests share the service (each start costs seconds): each makes what it reads
(providers, plugins, users with names of its own) and asserts on that alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from served import Estate, Service, serving


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``estate serve`` started in a folder of its own, with ``.estate/`` there, as ``make run``."""
    with serving(tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Estate:
    """``estate`` with no ``ESTATE_*``, no saved login, run from an empty folder."""
    for name in [n for n in os.environ if n.startswith("ESTATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "250")  # rich would wrap long values at 80
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return Estate(CliRunner(), None)


@pytest.fixture
def estate(offline: Estate, service: Service, monkeypatch: pytest.MonkeyPatch) -> Estate:
    """``estate`` pointed at the module's service with the admin's password."""
    monkeypatch.setenv("ESTATE_URL", service.url)
    monkeypatch.setenv("ESTATE_PASSWORD", service.password)
    return Estate(offline.runner, service)
