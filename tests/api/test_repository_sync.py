"""Syncs of one repository never overlap, across service processes: against two real
services on sockets sharing one database, a second ``POST repositories/{id}/sync/``
— to the same service or to the other — while the first waits on a slow index is
refused at once (409, naming the repository; the repository shows ``running``); the
first completes, and a sync after it runs. A claim left by a process that died is
taken over once stale. The slow index is a real HTTP server in a thread that answers
when told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.config import Settings
from estate.db.models import PluginRepository
from estate.registry.remotes import stale_after
from factories import API
from served import in_thread

INDEX = json.dumps({"schema": 1, "plugins": []}).encode()


@contextmanager
def held_index(asked: threading.Event, answer: threading.Event) -> Iterator[str]:
    """An index server that sets ``asked`` on each request and answers once ``answer``
    is set; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            answer.wait(30)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(INDEX)))
            self.end_headers()
            self.wfile.write(INDEX)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        answer.set()
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_a_second_sync_of_a_repository_while_one_runs_is_refused(settings: Settings) -> None:
    asked, answer = threading.Event(), threading.Event()
    with (
        held_index(asked, answer) as index,
        in_thread(settings) as url,
        in_thread(settings) as other_url,
        httpx.Client(base_url=url + API, auth=("admin", ADMIN_PASSWORD), timeout=60) as api,
        httpx.Client(
            base_url=other_url + API, auth=("admin", ADMIN_PASSWORD), timeout=60
        ) as other_service,
        ThreadPoolExecutor(1) as pool,
    ):
        body = {"name": "slow", "kind": "static", "url": index + "/"}
        repository = api.post("/repositories/", json=body).json()
        other = api.post("/repositories/", json={**body, "name": "other"}).json()
        sync = f"/repositories/{repository['id']}/sync/"

        first = pool.submit(api.post, sync)
        assert asked.wait(30), "the first sync never asked for the index"
        second = api.post(sync)
        assert second.status_code == 409, second.text
        assert second.json()["detail"] == (
            "a sync of slow is running; try again when it has finished"
        )
        elsewhere = other_service.post(sync)
        assert elsewhere.status_code == 409, elsewhere.text
        shown = api.get(f"/repositories/{repository['id']}/").json()
        assert shown["last_sync_status"] == "running"
        answer.set()  # another repository is not held up by it
        assert api.post(f"/repositories/{other['id']}/sync/").status_code == 200

        done = first.result(timeout=60)
        assert done.status_code == 200, done.text
        assert api.post(sync).status_code == 200
        shown = api.get(f"/repositories/{repository['id']}/").json()
        assert (shown["last_sync_status"], shown["last_error"]) == ("ok", None)


def test_a_claim_left_by_a_dead_process_is_taken_over_once_stale(
    client: TestClient, settings: Settings
) -> None:
    body = {"name": "gone", "kind": "static", "url": "http://127.0.0.1:9/"}
    repository = client.post(f"{API}/repositories/", json=body).json()
    sync = f"{API}/repositories/{repository['id']}/sync/"
    sessions = client.app.state.context.sessions  # type: ignore[attr-defined]

    def left_running(ago: timedelta) -> None:
        with sessions() as session:
            row = session.get(PluginRepository, repository["id"])
            row.last_sync_status, row.last_sync_at = "running", datetime.now(UTC) - ago
            session.commit()

    left_running(timedelta(seconds=10))
    assert client.post(sync).status_code == 409
    left_running(stale_after(settings) + timedelta(seconds=1))
    taken = client.post(sync)
    assert taken.status_code == 502, taken.text  # it ran: the index server is not there
    shown = client.get(f"{API}/repositories/{repository['id']}/").json()
    assert (shown["last_sync_status"], shown["last_error"]) == ("error", taken.json()["detail"])
