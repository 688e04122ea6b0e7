"""/docs and /redoc work on a site with no way out: every asset comes from the service."""

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import PurePosixPath

import httpx
import pytest
from fastapi.testclient import TestClient

from estate.config import Settings
from served import in_thread

ASSET = re.compile(r'(?:src|href)="([^"]+)"')
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_reference_only_the_services_own_assets(client: TestClient, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?:https?:)?//[a-z]", response.text), "an external host"
    assets = ASSET.findall(response.text)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in assets:
        assert asset.startswith("/static/docs/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        kind = CONTENT_TYPES[PurePosixPath(asset).suffix]
        assert kind in served.headers["content-type"], (asset, served.headers)
    assert "/openapi.json" in response.text


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """The app on a real socket, for a real browser."""
    with in_thread(settings) as url:
        yield url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pages, not the data
@pytest.mark.parametrize(("page", "needle"), [("/docs", "opblock"), ("/redoc", "operation/")])
def test_a_browser_without_network_renders_the_operations(
    server: str, page: str, needle: str
) -> None:
    assert CHROMIUM is not None, "chromium is not installed: `make test` installs it (apt)"
    assert httpx.get(f"{server}/openapi.json").status_code == 200
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{server}{page}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "provider-plugins" in dom
    assert needle in dom
