"""Plugin-owned API routes (seed 001's ``/plugin-apis/:plugin/*``), end to end.

Real plugin folders are uploaded; every request starts the plugin's real child
process, which answers through ``handle_api_request``.
"""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.config import Settings
from factories import API, fixture_plugin, tarball, upload

CALL_TIMEOUT = 3.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a short call timeout, so a hung plugin answers 504 fast."""
    return settings.model_copy(update={"call_timeout": CALL_TIMEOUT})


def install(
    client: TestClient, tmp_path: Path, provider_type: str, api: Any = None
) -> dict[str, Any]:
    extra = {} if api is None else {"api": api}
    folder = fixture_plugin(
        "api_routes",
        tmp_path / provider_type,
        constants={"PROVIDER_TYPE": provider_type},
        name=provider_type,
        provider_type=provider_type,
        **extra,
    )
    response = upload(client, tarball(folder))
    assert response.status_code == 201, response.text
    uploaded: dict[str, Any] = response.json()
    return uploaded


@pytest.fixture
def routed(client: TestClient, tmp_path: Path) -> str:
    """The URL prefix of a plugin that declares ``api: {routes: true}``."""
    install(client, tmp_path, "echo", api={"routes": True})
    return f"{API}/plugin-apis/routed:echo"


def test_a_get_is_forwarded_with_path_query_and_headers(client: TestClient, routed: str) -> None:
    response = client.get(
        f"{routed}/things/42",
        params=[("a", "1"), ("b", "2"), ("b", "3")],
        headers={"X-Trace": "t-1", "Cookie": "session=abc"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-plugin"] == "routed:echo"
    answer = response.json()
    assert answer["method"] == "GET"
    assert answer["path"] == "/things/42"
    assert answer["query"] == {"a": "1", "b": ["2", "3"]}
    assert answer["headers"]["x-trace"] == "t-1"
    assert "authorization" not in answer["headers"]
    assert "cookie" not in answer["headers"]
    assert answer["body"] == ""


def test_a_post_body_reaches_the_plugin(client: TestClient, routed: str) -> None:
    response = client.post(f"{routed}/items/", json={"name": "web-1", "cpus": 2})

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["method"] == "POST"
    assert answer["path"] == "/items/"
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["body"] == '{"name":"web-1","cpus":2}'


def test_every_method_is_forwarded(client: TestClient, routed: str) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        response = client.request(method, f"{routed}/items/7", content=b"x")

        assert response.status_code == 200, response.text
        assert response.json()["method"] == method
        assert response.json()["body"] == "x"


def test_the_plugin_chooses_status_headers_and_raw_body(client: TestClient, routed: str) -> None:
    response = client.get(f"{routed}/raw")

    assert response.status_code == 201
    assert response.content == b"raw bytes"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-plugin"] == "raw"


def test_a_plugin_without_the_declaration_is_404(client: TestClient, tmp_path: Path) -> None:
    install(client, tmp_path, "plain")
    install(client, tmp_path, "off", api={"routes": False})

    for key in ("routed:plain", "routed:off"):
        response = client.get(f"{API}/plugin-apis/{key}/anything")

        assert response.status_code == 404
        assert response.json()["detail"] == f"plugin {key} does not serve API routes"


def test_an_unknown_plugin_is_404(client: TestClient) -> None:
    response = client.post(f"{API}/plugin-apis/nobody:here/x", content=b"{}")

    assert response.status_code == 404
    assert "nobody:here" in response.json()["detail"]


def test_a_plugin_error_is_502_with_its_message(client: TestClient, routed: str) -> None:
    response = client.get(f"{routed}/boom")

    assert response.status_code == 502
    assert "the backend at 10.0.0.9 is down" in response.json()["detail"]
    assert client.get(f"{routed}/still-serving").status_code == 200


def test_a_malformed_answer_is_502(client: TestClient, routed: str) -> None:
    status = client.get(f"{routed}/bad-status")
    header = client.get(f"{routed}/bad-header")

    assert status.status_code == 502
    assert "status 'fine'" in status.json()["detail"]
    assert header.status_code == 502
    assert "set-cookie" not in header.headers
    assert "headers" in header.json()["detail"]


def test_a_plugin_that_does_not_implement_the_hook_is_501(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("no_api_routes", tmp_path / "lazy")
    assert upload(client, tarball(folder)).status_code == 201

    response = client.get(f"{API}/plugin-apis/routed:lazy/")

    assert response.status_code == 501
    assert "routed:lazy does not serve API routes" in response.json()["detail"]


def test_a_hung_plugin_is_504(client: TestClient, routed: str) -> None:
    response = client.get(f"{routed}/sleep")

    assert response.status_code == 504
    assert f"within {CALL_TIMEOUT:g}s" in response.json()["detail"]


def test_a_body_over_10_mb_is_413(client: TestClient, routed: str) -> None:
    response = client.post(f"{routed}/upload", content=b"x" * (10 * 1024 * 1024 + 1))

    assert response.status_code == 413
    assert "10 MB" in response.json()["detail"]


def test_plugin_routes_need_authentication(
    client: TestClient, anonymous: TestClient, routed: str
) -> None:
    assert anonymous.get(f"{routed}/things").status_code == 401
    assert anonymous.post(f"{routed}/things", content=b"x").status_code == 401
    assert client.get(f"{routed}/things").status_code == 200
