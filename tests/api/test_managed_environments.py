"""Built-in plugins with requirements (a platform's client library): their environment
is built in the background at the first start, shared by later starts, and a failed
build is tried again at the next start."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import API, collect, create_provider, fixture_plugin, wheel

KEY = "myvendor:myplatform"
PLUGIN = f"{API}/provider-plugins/{KEY}/"


def builtin_dir(root: Path, requirement: str) -> Path:
    """A built-in plugins folder holding one plugin that needs ``requirement``."""
    folder = fixture_plugin("needs_tinydep", root / "myvendor" / "myplatform")
    (folder / "requirements.txt").write_text(f"{requirement}\n")
    wheel(folder / "wheels", "tinydep", "1.2.0", 'VERSION = "1.2.0"\n')
    return root


@pytest.fixture
def managed(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose built-in plugins are one needing tinydep, in a fresh environments
    folder (nothing built yet), offline: the wheel comes from the plugin's own folder."""
    settings.builtin_plugins_dir = builtin_dir(tmp_path / "builtin", "tinydep==1.2.0")
    settings.environments_dir = tmp_path / "environments"
    settings.offline = True
    return settings


def started(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client


def version_of(client: TestClient, timeout: float = 60) -> dict[str, Any]:
    """The plugin's version once it is no longer preparing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (version,) = client.get(PLUGIN).json()["versions"]
        if version["state"] != "preparing":
            return version
        time.sleep(0.05)
    raise AssertionError(f"{KEY} still preparing after {timeout} s")


def test_a_builtin_plugin_with_requirements_is_prepared_in_the_background_and_collects(
    managed: Settings,
) -> None:
    for client in started(managed):
        first = client.get(PLUGIN).json()["versions"][0]
        assert first["state"] in ("preparing", "ready")  # the job may be quick
        version = version_of(client)
        assert version["state"] == "ready", version
        assert version["source"] == "managed"
        provider = create_provider(client, vendor="myvendor", provider_type="myplatform")
        run = collect(client, provider["id"])
        assert run["status"] == "completed", run
        (vm,) = client.get(f"{API}/resources/", params={"provider": provider["id"]}).json()[
            "results"
        ]
        assert vm["properties"]["tinydep_version"] == "1.2.0"
        assert vm["properties"]["tinydep_file"].startswith(str(managed.environments_dir))
    built = sorted(p.name for p in managed.environments_dir.iterdir() if p.name.startswith("req-"))
    assert len(built) == 1, built

    for client in started(managed):  # a later start finds it built: ready at once
        assert client.get(PLUGIN).json()["versions"][0]["state"] == "ready"


def test_a_failed_build_names_the_requirements_and_is_tried_again_at_the_next_start(
    managed: Settings, tmp_path: Path
) -> None:
    requirements = managed.builtin_plugins_dir / "myvendor" / "myplatform" / "requirements.txt"
    requirements.write_text("tinydep==9.9.9\n")  # no such wheel, and offline
    for client in started(managed):
        version = version_of(client)
        assert version["state"] == "failed", version
        assert "requirements.txt" in version["error"]
        assert "tinydep" in version["error"]

    requirements.write_text("tinydep==1.2.0\n")
    for client in started(managed):
        assert version_of(client)["state"] == "ready"
