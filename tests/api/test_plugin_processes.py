"""Long-lived plugin processes through the service: reuse, replacement, status, shutdown.

Connection tests go to a process per provider kept by the supervisor; the tests count
the service's child processes through ``/proc`` and read ``GET plugin-processes/``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from estate.api.app import create_app
from estate.config import Settings
from evented import SECRET, evented_provider, install
from factories import (
    API,
    create_provider,
    fixture_plugin,
    live_children,
    patch_config,
    start_run,
    tarball,
    upload,
    wait_for_run,
    wait_for_status,
)

SIMULATED = {"password": "simulated"}


def children() -> set[int]:
    """Live child processes of this (test) process."""
    return live_children(os.getpid())


def processes(client: TestClient) -> list[dict[str, Any]]:
    page = client.get(f"{API}/plugin-processes/").json()
    assert page["count"] == len(page["results"])
    results: list[dict[str, Any]] = page["results"]
    return results


def test_connection_tests_reuse_one_process_per_provider(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SIMULATED)
    url = f"{API}/providers/{provider['id']}/test/"
    before = children()

    assert client.post(url).json()["ok"] is True
    [entry] = processes(client)
    pid = entry["pid"]
    assert entry["slot"] == f"provider:{provider['id']}"
    assert entry["plugin_key"] == "simulated:datacenter"
    assert entry["state"] == "running" and entry["starts"] == 1
    assert children() - before == {pid}

    started = time.perf_counter()
    for _ in range(5):
        assert client.post(url).json()["ok"] is True
    warm = (time.perf_counter() - started) / 5
    [entry] = processes(client)
    assert entry["pid"] == pid and entry["starts"] == 1
    assert children() - before == {pid}
    assert warm < 1.0  # no process start per call (a start takes ~0.1-0.3 s)

    # Editing the provider changes what the process was configured with: replaced.
    patch_config(client, provider["id"], password="simulated", hosts_per_cluster=3)
    assert client.post(url).json()["ok"] is True
    [entry] = processes(client)
    assert entry["pid"] != pid and entry["restarts"] == 1
    assert children() - before == {entry["pid"]}

    # Deleting the provider stops its process.
    assert client.delete(f"{API}/providers/{provider['id']}/").status_code == 204
    assert processes(client) == []
    assert children() - before == set()


def test_a_killed_provider_process_is_seen_and_replaced(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SIMULATED)
    url = f"{API}/providers/{provider['id']}/test/"
    assert client.post(url).json()["ok"] is True
    [entry] = processes(client)
    os.kill(entry["pid"], signal.SIGKILL)
    time.sleep(0.2)

    answer = client.post(url).json()  # backoff is short: the call restarts it
    assert answer["ok"] is True, answer
    [entry] = processes(client)
    assert entry["restarts"] == 1 and entry["recent_crashes"] == 1
    assert "SIGKILL" in entry["last_error"]
    assert any("restart in" in line["message"] for line in entry["log"])


def test_a_crash_looping_plugin_is_left_stopped_with_a_clear_message(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"crash_loop_failures": 2, "restart_backoff": 0.01, "restart_backoff_max": 0.01}
    )
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())  # type: ignore[union-attr]
        install(client, tmp_path, EXIT_ON_CONNECT=7)  # dies as it connects
        provider = evented_provider(client)
        url = f"{API}/providers/{provider['id']}/test/"
        first, second = client.post(url).json(), client.post(url).json()
        assert first["ok"] is False and "exit code 7" in first["message"]
        assert second["ok"] is False
        third = client.post(url).json()
        assert third["ok"] is False
        assert "crashed 2 times" in third["message"]
        assert "upload a fixed version" in third["message"]
        [entry] = processes(client)
        assert entry["state"] == "broken" and entry["pid"] is None
        assert SECRET not in str(entry)


def test_events_published_outside_a_collection_are_stored_with_the_provider(
    client: TestClient, tmp_path: Path
) -> None:
    install(client, tmp_path)
    provider = evented_provider(client)

    answer = client.post(f"{API}/providers/{provider['id']}/test/").json()

    assert answer["ok"] is True, answer
    page = client.get(f"{API}/events/", params={"provider": provider["id"]}).json()
    [event] = page["results"]
    assert event["type"] == "session.opened"
    assert event["run"] is None and event["provider"] == provider["id"]
    assert SECRET not in str(event)


def test_shutting_the_service_down_leaves_no_plugin_process(
    settings: Settings, tmp_path: Path
) -> None:
    before = children()
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())  # type: ignore[union-attr]
        install(client, tmp_path, SLEEPER_ON_CONNECT=True)  # leaves a sleeping grandchild
        providers = [evented_provider(client, name=f"p{i}") for i in range(2)]
        for provider in providers:
            assert client.post(f"{API}/providers/{provider['id']}/test/").json()["ok"] is True
        pids = {entry["pid"] for entry in processes(client)}
        assert len(pids) == 2 and children() - before == pids
        groups = list(pids)
    assert children() - before == set()
    deadline = time.monotonic() + 5
    for group in groups:  # the plugins' own children went with their process groups
        while True:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, f"process group {group} outlived the service"
            time.sleep(0.05)


def test_cancel_reaches_the_plugin_as_a_protocol_message(settings: Settings) -> None:
    grace = 40.0  # a plugin that ignored $/cancel would be killed only after this long
    with TestClient(create_app(settings.model_copy(update={"cancel_grace": grace}))) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())  # type: ignore[union-attr]
        provider = create_provider(client, connection_config={**SIMULATED, "resources": 5_000_000})
        run = start_run(client, provider["id"])
        wait_for_status(client, run["id"], "running")
        time.sleep(0.5)

        asked = time.monotonic()
        assert client.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code == 200
        done = wait_for_run(client, run["id"], timeout=grace + 10)
        answered_in = time.monotonic() - asked
        log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]

    assert done["status"] == "canceled", done
    assert answered_in < grace / 2, answered_in  # the plugin stopped itself; no kill came
    assert "asking the plugin to stop" in log
    assert "ignored $/cancel" not in log
    assert done["resources_deleted"] == 0


def test_plugin_api_requests_reuse_one_process_per_version(
    client: TestClient, tmp_path: Path
) -> None:
    def release(version: str) -> None:
        folder = fixture_plugin(
            "pid_echo",
            tmp_path / version,
            constants={"VERSION": version},
            version=f"{version}.0.0",
        )
        assert upload(client, tarball(folder)).status_code == 201

    release("1")
    first = client.get(f"{API}/plugin-apis/pid:echo/x").json()
    second = client.get(f"{API}/plugin-apis/pid:echo/y").json()
    assert first == second and first["version"] == "1"

    release("2")  # hot-load: the next request reaches the new version's process
    third = client.get(f"{API}/plugin-apis/pid:echo/x").json()
    assert third["version"] == "2" and third["pid"] != first["pid"]

    assert client.delete(f"{API}/provider-plugins/pid:echo/").status_code == 204
    assert [e for e in processes(client) if e["plugin_key"] == "pid:echo"] == []
