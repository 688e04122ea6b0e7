"""Installing the ``evented`` fixture plugin (``evented:platform``), shared by the event tests."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import create_provider, fixture_plugin, tarball, upload

SECRET = "s3cret-pass-word"


def install(client: TestClient, tmp_path: Path, **constants: Any) -> None:
    """Upload the ``evented`` fixture, its module-level ``constants`` rewritten."""
    folder = fixture_plugin("evented", tmp_path / "evented", constants=constants)
    response = upload(client, tarball(folder))
    assert response.status_code == 201, response.text


def evented_provider(client: TestClient, name: str = "Evented", **config: Any) -> dict[str, Any]:
    return create_provider(
        client,
        name=name,
        vendor="evented",
        provider_type="platform",
        connection_config={"username": "ops", "password": SECRET, **config},
    )
