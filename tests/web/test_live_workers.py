"""Live pages across ``estate serve --workers 2``: a collection started through the API
on one worker (run by the primary, which answers no request) wakes the open pages'
event streams of the other worker too (the bell, jobs/bell.py), not at their next idle
look. Real processes, real HTTP, both databases."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import ADMIN_PASSWORD, BACKENDS, service_env
from estate.web.live import IDLE_SECONDS
from factories import API
from served import Service, client_port, serving, serving_process, worker_client


class Page:
    """A page's event stream read as a browser's EventSource reads it, in a thread."""

    def __init__(self, service: Service, cookies: httpx.Cookies, path: str) -> None:
        self.events: list[tuple[float, str]] = []  # (when, data) of each event
        self._client = httpx.Client(
            base_url=service.url, cookies=cookies, timeout=httpx.Timeout(20, read=None)
        )
        self._answer = self._client.send(
            self._client.build_request("GET", path, headers={"Accept": "text/event-stream"}),
            stream=True,
        )
        assert self._answer.status_code == 200
        self.pid = serving_process(service, client_port(self._answer))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data: list[str] = []
        try:
            for line in self._answer.iter_lines():
                if line.startswith("data: "):
                    data.append(line[6:])
                elif not line and data:
                    self.events.append((time.monotonic(), "\n".join(data)))
                    data = []
        except (httpx.HTTPError, httpx.StreamError):  # closed by the test
            return

    def wait_for(self, text: str, until: float) -> float:
        while time.monotonic() < until:
            for when, data in list(self.events):
                if text in data:
                    return when
            time.sleep(0.05)
        raise AssertionError(f"no event with {text!r} on pid {self.pid}: {self.events}")

    def close(self) -> None:
        self._answer.close()
        self._client.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_collection_started_through_one_worker_wakes_the_others_open_page_at_once(
    backend: str, request: pytest.FixtureRequest, environments_dir: Path, tmp_path: Path
) -> None:
    env = service_env(backend, request, environments_dir)
    with serving(tmp_path, "--workers", "2", **env) as service:
        with httpx.Client(base_url=service.url, timeout=20) as browser:
            login = browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
            assert login.status_code == 303
            cookies = browser.cookies
        with httpx.Client(base_url=service.url, auth=("admin", ADMIN_PASSWORD), timeout=20) as api:
            provider: Any = api.post(
                f"{API}/providers/",
                json={
                    "name": "dc",
                    "vendor": "simulated",
                    "provider_type": "datacenter",
                    "connection_config": {"clusters": 1, "hosts_per_cluster": 2},
                },
            ).json()
            path = f"/live/providers/{provider['id']}"
            # One page on each worker: the kernel hashes each new connection to one
            # worker's socket, so pages are opened until one lands on the other.
            first = Page(service, cookies, path)
            for _ in range(60):
                second = Page(service, cookies, path)
                if second.pid != first.pid:
                    break
                second.close()
            pages = {first.pid: first, second.pid: second}
            # Two workers; the primary (the jobs' process) answers no request.
            assert service.pid not in pages and len(pages) == 2
            opened = time.monotonic()
            for page in pages.values():
                page.wait_for("Never collected", opened + 20)

            # The collection is started through the first page's worker and run by the
            # primary: only the bell can tell the other worker's page before its next
            # idle look, IDLE_SECONDS after its first.
            with worker_client(
                service, first.pid, auth=("admin", ADMIN_PASSWORD), timeout=20
            ) as fresh:
                started = fresh.post(f"{API}/providers/{provider['id']}/collect/")
            assert started.status_code == 202, started.text
            run_id = started.json()["id"]
            seen = [
                page.wait_for(f"Run #{run_id}", opened + IDLE_SECONDS) for page in pages.values()
            ]
            assert max(seen) - opened < IDLE_SECONDS / 2, (seen, opened)
            for page in pages.values():
                page.close()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log
