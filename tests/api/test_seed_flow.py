"""Seed 000's flow over real HTTP: `estate serve`, then upload, create, collect as its curl lines do.

The plugin is the seed's "Writing a new plugin" example, laid out as the seed's
"Plugin contents" table shows and packaged like ``tar czf plugin.tar.gz .``.
"""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import REPO
from factories import API, FINISHED, fixture_plugin, tarball

PASSWORD = "seed-flow-password"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "myvendor-myplatform"
version = "1.0.0"
description = "A plugin written as seed 000 shows"
requires-python = ">=3.11"
dependencies = []

[project.entry-points."inventory_providers"]
"myvendor:myplatform" = "provider:MyProvider"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    """``estate serve`` in a child process on a free port; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update(
        ESTATE_DATA_DIR=str(tmp_path / "data"),
        ESTATE_ADMIN_PASSWORD=PASSWORD,
        ESTATE_DATABASE_URL=database_url,
    )
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(REPO / ".venv/bin/estate"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, base, log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(process: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"estate serve exited with {process.returncode}:\n{log_path.read_text()}"
            )
        try:
            if httpx.get(f"{base}{API}/ping/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"estate serve did not answer /ping/ in 60 s:\n{log_path.read_text()}")


def wait_for_run(http: httpx.Client, run_id: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run: dict = http.get(f"{API}/collection-runs/{run_id}/").json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in 60 s")


def seed_plugin_folder(root: Path) -> Path:
    """manifest.yml, provider.py, __init__.py, pyproject.toml, requirements.txt."""
    folder = fixture_plugin("seed", root)
    (folder / "requirements.txt").write_text("# the example needs nothing beyond the SDK\n")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    assert sorted(p.name for p in folder.iterdir()) == [
        "__init__.py",
        "manifest.yml",
        "provider.py",
        "pyproject.toml",
        "requirements.txt",
    ]
    return folder


def test_seed_upload_create_collect(server: str, tmp_path: Path) -> None:
    archive = tmp_path / "plugin.tar.gz"
    archive.write_bytes(tarball(seed_plugin_folder(tmp_path / "myvendor" / "myplatform")))

    with httpx.Client(base_url=server, auth=("admin", PASSWORD), timeout=30) as http:
        assert httpx.get(f"{server}{API}/provider-plugins/").status_code == 401

        # curl -u admin:$PASS -F "plugin=@/tmp/plugin.tar.gz;type=application/gzip" …/upload/
        with archive.open("rb") as stream:
            response = http.post(
                f"{API}/provider-plugins/upload/",
                files={"plugin": ("plugin.tar.gz", stream, "application/gzip")},
            )
        assert response.status_code == 201, response.text
        uploaded = response.json()
        assert uploaded["key"] == "myvendor:myplatform"
        assert uploaded["class_path"] == "provider.MyProvider"
        assert uploaded["supported_resource_types"] == ["virtual_machine"]

        response = http.post(
            f"{API}/providers/",
            json={
                "name": "Production myplatform",
                "infrastructure": "private_cloud",
                "vendor": "myvendor",
                "provider_type": "myplatform",
                "endpoint": "myplatform.lab.local",
                "organization": 1,
                "connection_config": {
                    "username": "administrator@vsphere.local",
                    "password": "secret",
                    "port": 443,
                    "verify_ssl": False,
                },
            },
        )
        assert response.status_code == 201, response.text
        provider = response.json()
        assert provider["connection_config"]["password"] == "$encrypted$"
        assert provider["connection_config"]["username"] == "administrator@vsphere.local"
        assert provider["connection_config"]["verify_ssl"] is False
        assert '"secret"' not in response.text
        fetched = http.get(f"{API}/providers/{provider['id']}/").json()
        assert fetched["connection_config"]["password"] == "$encrypted$"

        response = http.post(
            f"{API}/providers/{provider['id']}/collect/",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 202, response.text
        run = wait_for_run(http, response.json()["id"])
        assert run["status"] == "completed", run
        assert run["plugin_version"] == "1.0.0"

        response = http.get(f"{API}/resources/", params={"provider": provider["id"]})
        assert response.status_code == 200
        resources = response.json()["results"]
        assert {r["name"]: r["state"] for r in resources} == {
            "web-0": "running",
            "web-1": "stopped",
            "web-2": "running",
        }
        assert {r["resource_type"] for r in resources} == {"virtual_machine"}
        assert {r["ems_ref"] for r in resources} == {"vm-0", "vm-1", "vm-2"}
