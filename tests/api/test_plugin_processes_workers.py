"""``GET plugin-processes/`` under ``estate serve --workers 2`` lists the plugin
processes of every service process, whichever answers (jobs/process_board.py).

Real processes, real HTTP: the test makes sure which worker answers by talking over
a connection that worker holds (``served.worker_client``; the primary accepts nothing
at all).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ADMIN_PASSWORD, BACKENDS, service_env
from factories import API
from served import Service, serving, worker_client, worker_pids

PUBLISHED = 4.0
"""Longer than the board's one-second look, on a loaded machine."""


def _api(
    service: Service, worker: int | None = None
) -> contextlib.AbstractContextManager[httpx.Client]:
    """A client of ``worker``'s (any worker's: None)."""
    options: dict[str, Any] = {"auth": ("admin", ADMIN_PASSWORD), "timeout": 30}
    if worker is None:
        return httpx.Client(base_url=service.url, **options)
    return worker_client(service, worker, **options)


def _listed(service: Service, worker: int | None = None) -> dict[str, dict[str, Any]]:
    with _api(service, worker) as api:
        page = api.get(f"{API}/plugin-processes/")
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["count"] == len(body["results"])
    return {entry["slot"]: entry for entry in body["results"]}


def _provider(service: Service, name: str) -> int:
    with _api(service) as api:
        answer = api.post(
            f"{API}/providers/",
            json={"name": name, "vendor": "simulated", "provider_type": "datacenter"},
        )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _test_connection(service: Service, provider_id: int, worker: int) -> None:
    with _api(service, worker) as api:
        answer = api.post(f"{API}/providers/{provider_id}/test/")
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_service_process_lists_the_plugin_processes_of_all(
    backend: str, request: pytest.FixtureRequest, environments_dir: Path, tmp_path: Path
) -> None:
    env = service_env(backend, request, environments_dir)
    with serving(tmp_path, "--workers", "2", **env) as service:
        deadline = time.monotonic() + 30
        while len(worker_pids(service)) != 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        first, second = worker_pids(service)
        on_first, on_second = _provider(service, "one"), _provider(service, "two")

        # Each provider's process is started by one worker: the one asked.
        _test_connection(service, on_first, first)
        _test_connection(service, on_second, second)
        time.sleep(PUBLISHED)

        for answering in (first, second):
            listed = _listed(service, answering)
            assert set(listed) == {f"provider:{on_first}", f"provider:{on_second}"}, listed
            held = listed[f"provider:{on_first}"]
            assert held["service_pid"] == first and held["state"] == "running"
            assert held["pid"] is not None and held["starts"] == 1
            assert held["idle_seconds"] >= 0
            assert listed[f"provider:{on_second}"]["service_pid"] == second
            assert answering in {e["service_pid"] for e in listed.values()}

        # A worker killed without a goodbye: its processes leave the list (the primary
        # starts another worker, which has none).
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            listed = _listed(service)
            if f"provider:{on_first}" not in listed:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)
        assert set(listed) == {f"provider:{on_second}"}
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log
