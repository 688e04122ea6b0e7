"""The access log: one INFO line per request through ``estate.access``, no secrets."""

import base64
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from factories import API, log_in

Records = Callable[[], list[logging.LogRecord]]


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.INFO, logger="estate.access")

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "estate.access"]

    return records


def test_one_line_per_request_with_method_path_status_duration_user_client(
    client: TestClient, access: Records
) -> None:
    response = client.get(f"{API}/resources/", params={"state": "running", "page_size": 5})
    assert response.status_code == 200

    [record] = access()
    assert record.levelno == logging.INFO
    assert record.method == "GET"
    assert record.path == f"{API}/resources/?state=running&page_size=5"
    assert record.status == 200
    assert record.duration_ms >= 0
    assert record.user == "admin"
    assert record.client == "testclient"
    assert record.getMessage().startswith(f"GET {API}/resources/?state=running&page_size=5 200 ")
    assert record.getMessage().endswith(" ms user=admin client=testclient")


def test_refused_and_anonymous_requests_are_logged_too(
    client: TestClient, anonymous: TestClient, access: Records
) -> None:
    anonymous.get(f"{API}/providers/")
    client.get(f"{API}/providers/", params={"type": "x"})
    client.get(f"{API}/providers/4242/")

    assert [(r.status, r.user) for r in access()] == [(401, "-"), (400, "-"), (404, "admin")]


def test_no_credential_reaches_the_log(
    client: TestClient, anonymous: TestClient, access: Records, caplog: pytest.LogCaptureFixture
) -> None:
    token = client.post(f"{API}/tokens/", json={"name": "log"}).json()["token"]
    client.get(f"{API}/ping/", params={"password": "hunter22", "api_key": "k3y-value"})
    anonymous.get(f"{API}/users/me/", headers={"Authorization": f"Bearer {token}"})
    basic = base64.b64encode(b"admin:not-the-password").decode()
    anonymous.get(f"{API}/users/me/", headers={"Authorization": f"Basic {basic}"})

    paths = [r.path for r in access()]
    assert paths[1] == f"{API}/ping/?password=***&api_key=***"
    assert [(r.status, r.user) for r in access()][2:] == [(200, "admin"), (401, "-")]
    for secret in ("hunter22", "k3y-value", token, "not-the-password", basic):
        assert secret not in caplog.text


def test_a_page_and_its_live_stream_are_logged_with_the_session_user(
    anonymous: TestClient, access: Records
) -> None:
    log_in(anonymous)
    anonymous.get("/providers")
    with anonymous.stream("GET", "/live/dashboard") as stream:
        next(stream.iter_lines())

    lines = [(r.method, r.path, r.status, r.user) for r in access()]
    assert ("POST", "/login", 303, "-") in lines  # before the session exists
    assert ("GET", "/", 200, "admin") in lines
    assert ("GET", "/providers", 200, "admin") in lines
    assert ("GET", "/live/dashboard", 200, "admin") in lines
