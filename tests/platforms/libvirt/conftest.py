"""The service with the built-in libvirt:kvm plugin able to read the test host's file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    """Where the test writes its libvirt host file; plugins may read it."""
    folder = tmp_path / "libvirt"
    folder.mkdir()
    return folder


@pytest.fixture
def service(settings: Settings, host_dir: Path) -> Iterator[TestClient]:
    """The real app, logged in as admin, whose confined plugins may read ``host_dir``
    (as an operator adds a libvirt socket or ssh key folder with ESTATE_PLUGIN_READABLE)."""
    settings.plugin_readable = [host_dir]
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client
