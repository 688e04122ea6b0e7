"""A collection's plugin runs at ``background_nice``; the supervised processes that
answer requests do not: real runs through the service, niceness read from ``/proc``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from estate.runtime.confinement import landlock_abi
from factories import (
    API,
    create_provider,
    descendants,
    fixture_plugin,
    start_run,
    tarball,
    upload,
    wait_for_status,
)

SIMULATED = {"password": "simulated"}
NICE = 7


def niceness(pid: int) -> int:
    """Field 19 of ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def plugin_processes(root: int) -> dict[int, int]:
    """``{pid: niceness}`` of ``root`` and its descendants that run a plugin (their
    command line names a class path: the launcher, the namespace's init, the plugin)."""
    found = {}
    for pid in [root, *descendants(root)]:
        try:
            if b"--class-path" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found[pid] = niceness(pid)
        except (OSError, ValueError):
            continue  # ended meanwhile
    return found


@pytest.fixture(params=["confined", "unconfined"])
def niced(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    confined = request.param == "confined"
    if confined and not landlock_abi():
        pytest.skip("the kernel has no Landlock")  # the unconfined case runs everywhere
    changed = settings.model_copy(update={"background_nice": NICE, "confine": confined})
    with TestClient(create_app(changed)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client


def test_a_collections_plugin_is_niced_and_a_supervised_process_is_not(
    niced: TestClient, tmp_path: Path
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert upload(niced, tarball(fixture_plugin("slow_collect", tmp_path / "p"))).status_code == 201
    slow = create_provider(niced, name="Slow", vendor="test", provider_type="plugin")
    run = start_run(niced, slow["id"])
    wait_for_status(niced, run["id"], "running")

    collecting = plugin_processes(os.getpid())
    assert collecting  # the launcher (confined) and the plugin itself
    assert set(collecting.values()) == {min(19, own + NICE)}, collecting

    # A connection test is answered by a supervised process: at the service's own niceness.
    simulated = create_provider(niced, connection_config=SIMULATED)
    assert niced.post(f"{API}/providers/{simulated['id']}/test/").json()["ok"] is True
    [entry] = [
        p
        for p in niced.get(f"{API}/plugin-processes/").json()["results"]
        if p["slot"] == f"provider:{simulated['id']}"
    ]
    supervised = plugin_processes(entry["pid"])
    assert entry["pid"] in supervised
    assert set(supervised.values()) == {own}, supervised

    assert niced.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code in (200, 202)
    wait_for_status(niced, run["id"], "canceled")


def test_no_niceness_when_set_to_zero(settings: Settings, tmp_path: Path) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with TestClient(create_app(settings.model_copy(update={"background_nice": 0}))) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        folder = fixture_plugin("slow_collect", tmp_path / "p")
        assert upload(client, tarball(folder)).status_code == 201
        slow = create_provider(client, name="Slow", vendor="test", provider_type="plugin")
        run = start_run(client, slow["id"])
        wait_for_status(client, run["id"], "running")

        collecting = plugin_processes(os.getpid())
        assert collecting and set(collecting.values()) == {own}, collecting

        assert client.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code in (200, 202)
        wait_for_status(client, run["id"], "canceled")
