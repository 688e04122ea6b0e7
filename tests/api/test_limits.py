"""Request bodies: a size limit (413) and a nesting limit (400), never a 500."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import API, create_provider


@pytest.fixture
def small_client(settings: Settings) -> Iterator[TestClient]:
    """The service with a 64 KB body limit, logged in as admin."""
    small = Settings(**{**settings.model_dump(), "max_body_bytes": 64 * 1024})
    with TestClient(create_app(small)) as test_client:
        test_client.auth = ("admin", ADMIN_PASSWORD)
        yield test_client


def _provider(**config: object) -> dict[str, object]:
    return {
        "name": "p",
        "vendor": "simulated",
        "provider_type": "datacenter",
        "connection_config": config,
    }


def nested(levels: int) -> object:
    value: object = 1
    for i in range(levels):
        value = {"a": value} if i % 2 else [value]
    return value


def test_a_body_over_the_default_limit_is_refused_by_its_length(client: TestClient) -> None:
    body = b'{"name": "' + b"x" * (4 * 1024 * 1024) + b'"}'

    response = client.post(
        f"{API}/providers/", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "request body over the 4 MB limit (ESTATE_MAX_BODY_BYTES)"}


def test_a_chunked_body_is_counted_as_it_streams(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    response = small_client.post(
        f"{API}/providers/", content=chunks(), headers={"content-type": "text/plain"}
    )

    assert response.status_code == 413, response.text
    assert "0.0625 MB" not in response.json()["detail"]
    assert response.json()["detail"] == (
        "request body over the 65536 bytes limit (ESTATE_MAX_BODY_BYTES)"
    )


def test_a_chunked_json_body_is_counted_too(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = small_client.post(
        f"{API}/providers/", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413


def test_a_body_within_the_limit_is_served(small_client: TestClient) -> None:
    response = small_client.post(f"{API}/providers/", json=_provider(clusters=1))

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("levels", [65, 300, 3000])
def test_json_nested_too_deep_is_refused_naming_the_limit(client: TestClient, levels: int) -> None:
    body = b'{"name": "p", "connection_config": {"x": ' + b"[" * levels + b"]" * levels + b"}}"

    response = client.post(
        f"{API}/providers/", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "request body nested deeper than the 64 levels allowed"}


def test_json_nested_within_the_limit_is_accepted(client: TestClient) -> None:
    provider = create_provider(
        client, vendor="nowhere", provider_type="none", connection_config={"deep": nested(60)}
    )

    assert provider["connection_config"]["deep"] == nested(60)


def test_a_large_connection_config_is_refused_naming_the_limit(client: TestClient) -> None:
    response = client.post(f"{API}/providers/", json=_provider(blob="x" * 70_000))

    assert response.status_code == 400
    assert "over the 64 KB limit of a connection_config" in response.json()["detail"]
    assert response.json()["detail"].startswith("connection_config: ")


def test_a_large_connection_config_is_refused_on_update_too(client: TestClient) -> None:
    provider = create_provider(client)

    response = client.patch(
        f"{API}/providers/{provider['id']}/", json={"connection_config": {"blob": "x" * 70_000}}
    )

    assert response.status_code == 400
    assert "64 KB" in response.json()["detail"]
