"""Hot-load and plugin faults: the next job uses the newest upload, a bad plugin fails only its run.

No restart happens between uploads and runs: each test drives one started app. Plugins
run in real child processes; faults are real (an exception, ``os._exit``, a hang).
"""

import hashlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import (
    API,
    collect,
    create_provider,
    fixture_plugin,
    tarball,
    upload,
    wait_for_run,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Batches of one resource, so a failing plugin has streamed some before it fails."""
    settings.batch_size = 1
    return settings


@pytest.fixture
def impatient_client(settings: Settings) -> Iterator[TestClient]:
    """The app with a 3 s run timeout (the conftest ``client`` pattern)."""
    settings.run_timeout = 3
    with TestClient(create_app(settings)) as test_client:
        test_client.auth = ("admin", ADMIN_PASSWORD)
        yield test_client


def hot_plugin(root: Path, prefix: str, version: str) -> bytes:
    return tarball(fixture_plugin("hot_load", root, constants={"PREFIX": prefix}, version=version))


def names_of(client, provider_id: int) -> list[str]:
    results = client.get(f"{API}/resources/", params={"provider": provider_id}).json()["results"]
    return sorted(r["name"] for r in results)


def test_a_new_version_is_used_by_the_next_run_without_restart(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    assert upload(client, hot_plugin(tmp_path / "v1", "v1", "1.0.0")).status_code == 201
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    first = collect(client, provider["id"])
    assert first["status"] == "completed", first
    assert first["plugin_version"] == "1.0.0"
    assert names_of(client, provider["id"]) == ["v1-vm-0", "v1-vm-1", "v1-vm-2"]

    newer = hot_plugin(tmp_path / "v11", "v11", "1.1.0")
    assert upload(client, newer).status_code == 201
    second = collect(client, provider["id"])
    assert second["status"] == "completed", second
    assert second["plugin_version"] == "1.1.0"
    assert second["plugin_sha256"] == hashlib.sha256(newer).hexdigest()
    assert second["resources_updated"] == 3
    assert names_of(client, provider["id"]) == ["v11-vm-0", "v11-vm-1", "v11-vm-2"]

    patched = hot_plugin(tmp_path / "patched", "patched", "1.1.1")
    assert upload(client, patched).status_code == 201
    third = collect(client, provider["id"])
    assert third["status"] == "completed", third
    assert third["plugin_version"] == "1.1.1"
    assert third["plugin_sha256"] == hashlib.sha256(patched).hexdigest()
    assert names_of(client, provider["id"]) == ["patched-vm-0", "patched-vm-1", "patched-vm-2"]

    # The service never imported the stored plugin code itself: every run had its own process.
    store = str(settings.plugins_dir)
    assert not [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(store)
    ]


def faulty_provider(client, tmp_path) -> dict:
    """The faulty plugin uploaded, a provider on it, and a first complete collection."""
    folder = fixture_plugin("faulty", tmp_path / "faulty")
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client,
        name="Faulty",
        vendor="faulty",
        provider_type="plugin",
        connection_config={"mode": "ok"},
    )
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["resources_created"] == 3
    return provider


def fail_with(client, provider: dict, mode: str) -> dict:
    response = client.patch(
        f"{API}/providers/{provider['id']}/", json={"connection_config": {"mode": mode}}
    )
    assert response.status_code == 200, response.text
    run = collect(client, provider["id"], timeout=30)
    assert run["status"] == "failed", run
    assert run["resources_deleted"] == 0
    return run


def assert_inventory_untouched(client, provider: dict) -> None:
    results = client.get(
        f"{API}/resources/", params={"provider": provider["id"], "include_deleted": "true"}
    ).json()["results"]
    assert sorted(r["name"] for r in results) == ["vm-0", "vm-1", "vm-2"]
    assert not [r for r in results if r["is_deleted"]]
    for resource in results:
        history = client.get(f"{API}/resources/{resource['id']}/history/").json()["results"]
        assert [change["kind"] for change in history] == ["created"]


def assert_still_serving(client, provider: dict) -> None:
    assert client.get(f"{API}/ping/").json()["status"] == "ok"
    assert client.get(f"{API}/providers/").status_code == 200
    client.patch(f"{API}/providers/{provider['id']}/", json={"connection_config": {"mode": "ok"}})
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["resources_unchanged"] == 3


def test_a_plugin_that_raises_fails_its_run(client: TestClient, tmp_path: Path) -> None:
    provider = faulty_provider(client, tmp_path)
    run = fail_with(client, provider, "raise")
    assert "RuntimeError: the platform exploded: disk on fire" in run["error_message"]
    assert run["resources_found"] == 1
    assert_inventory_untouched(client, provider)
    assert_still_serving(client, provider)


def test_a_plugin_that_crashes_fails_its_run(client: TestClient, tmp_path: Path) -> None:
    provider = faulty_provider(client, tmp_path)
    run = fail_with(client, provider, "crash")
    assert "exit code 3" in run["error_message"], run["error_message"]
    assert run["resources_found"] == 1
    assert_inventory_untouched(client, provider)
    assert_still_serving(client, provider)


def plugin_processes(marker: Path) -> list[str]:
    """Command lines of live processes started from a plugin stored under ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        line = " ".join(part.decode("utf-8", "replace") for part in argv)
        if "sandbox.py" in line or argv[0].endswith(b"estate-sandbox"):  # launcher and init
            continue
        if "inventory_providers" in line and str(marker) in line:
            found.append(f"{entry.name}: {line}")
    return found


def test_a_plugin_that_hangs_is_stopped_at_the_run_timeout(
    impatient_client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    client = impatient_client
    provider = faulty_provider(client, tmp_path)
    client.patch(f"{API}/providers/{provider['id']}/", json={"connection_config": {"mode": "hang"}})
    started = client.post(f"{API}/providers/{provider['id']}/collect/")
    assert started.status_code == 202
    deadline = time.monotonic() + 10
    while len(plugin_processes(settings.plugins_dir)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(plugin_processes(settings.plugins_dir)) == 2  # the plugin and its grandchild
    run = wait_for_run(client, started.json()["id"], timeout=30)
    assert run["status"] == "failed", run
    assert run["resources_deleted"] == 0
    assert "did not answer 'collect' within 3s" in run["error_message"], run["error_message"]
    assert 3 <= run["duration_seconds"] < 20
    assert_inventory_untouched(client, provider)
    assert plugin_processes(settings.plugins_dir) == []
    assert_still_serving(client, provider)
    assert plugin_processes(settings.plugins_dir) == []
