"""A full disk during an upload: 507 with a JSON problem, nothing installed, no 500.

The data directory is a real 2 MB tmpfs (the tests run as root); where mounting is
not allowed the test fails rather than skips, as every other real-resource test here.
"""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import API, fixture_plugin, tarball, upload


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test, unmounted after it."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def test_an_upload_that_fills_the_disk_answers_507_and_installs_nothing(
    settings: Settings, small_disk: Path, tmp_path: Path
) -> None:
    folder = fixture_plugin("seed", tmp_path / "big")
    (folder / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # does not compress
    on_small_disk = Settings(**{**settings.model_dump(), "data_dir": small_disk / "data"})
    with TestClient(create_app(on_small_disk)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)

        response = upload(client, tarball(folder))

        assert response.status_code == 507, response.text
        assert response.json()["detail"].startswith("the disk is full (No space left on device)")
        assert "nothing was changed" in response.json()["detail"]
        keys = [p["key"] for p in client.get(f"{API}/provider-plugins/").json()]
        assert "myvendor:myplatform" not in keys
        incoming = small_disk / "data" / "plugins" / ".incoming"
        assert not incoming.exists() or list(incoming.iterdir()) == []
        assert client.get(f"{API}/ping/").status_code == 200
