"""Each stored version with requirements runs in its own environment, prepared at upload.

Real uv, real virtual environments, wheels written by hand and shipped in the archive
(or in the service's wheelhouse), ``settings.offline`` on: nothing reaches an index.
"""

import sys
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from estate.config import Settings
from estate.runtime.environments import sdk_environment_name
from factories import API, collect, create_provider, fixture_plugin, tarball, upload, wheel

PLUGINS = f"{API}/provider-plugins"
KEY = "envvendor:envtype"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.offline = True
    return settings


def env_plugin(
    root: Path, version: str = "1.0.0", requirements: str = "", wheels: dict[str, str] | None = None
) -> bytes:
    folder = fixture_plugin("reports_python_and_imports", root, version=version)
    (folder / "requirements.txt").write_text(requirements)
    for name, dep_version in (wheels or {}).items():
        wheel(folder / "wheels", name, dep_version, f'VERSION = "{dep_version}"\n')
    return tarball(folder)


def upload_nowait(client, data: bytes, *, force: bool = False):
    params = {"wait": "false"} | ({"force": "true"} if force else {})
    return client.post(
        f"{PLUGINS}/upload/",
        params=params,
        files={"plugin": ("plugin.tar.gz", data, "application/gzip")},
    )


def version_of(client, version: str) -> dict:
    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    [found] = [v for v in detail["versions"] if v["version"] == version]
    return found


def wait_for_state(client, version: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = version_of(client, version)
        if found["state"] != "preparing":
            return found
        time.sleep(0.02)
    raise AssertionError(f"{KEY} {version} still preparing after {timeout}s")


def collected(client, provider_id: int) -> dict:
    run = collect(client, provider_id)
    assert run["status"] == "completed", run
    response = client.get(f"{API}/resources/", params={"provider": provider_id})
    [resource] = response.json()["results"]
    return dict(resource["properties"])


def stored_folder(settings, sha256: str, version: str = "1.0.0") -> Path:
    return settings.plugins_dir / "envvendor" / "envtype" / f"{version}-{sha256[:12]}"


def test_the_versions_own_python_runs_the_plugin(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    data = env_plugin(tmp_path / "p", requirements="tinydep==2.0\n", wheels={"tinydep": "2.0"})
    response = upload(client, data)
    assert response.status_code == 201, response.text
    venv = stored_folder(settings, response.json()["sha256"]) / "venv"

    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    properties = collected(client, provider["id"])

    assert properties["python"] == str(venv / "bin" / "python")
    assert Path(properties["prefix"]) == venv
    assert properties["tinydep"] == "2.0"


def test_a_plugin_without_requirements_runs_in_the_shared_sdk_environment(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    response = upload(client, env_plugin(tmp_path / "p"))
    assert response.status_code == 201, response.text
    assert not (stored_folder(settings, response.json()["sha256"]) / "venv").exists()

    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    properties = collected(client, provider["id"])

    shared = settings.resolved_environments_dir / sdk_environment_name()
    assert Path(properties["prefix"]) == shared
    assert properties["python"] == str(shared / "bin" / "python")
    assert properties["tinydep"] is None
    # The service's own packages are not there: only the SDK and its accelerator.
    assert properties["service_package"] is None
    assert properties["orjson"] == orjson.__version__
    assert sys.prefix != properties["prefix"]


def test_a_versions_environment_holds_only_its_requirements(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    data = env_plugin(tmp_path / "p", requirements="tinydep==1.0\n", wheels={"tinydep": "1.0"})
    assert upload(client, data).status_code == 201
    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    properties = collected(client, provider["id"])
    assert properties["tinydep"] == "1.0"
    assert properties["service_package"] is None
    assert properties["orjson"] == orjson.__version__


def test_upload_without_waiting_prepares_in_the_background(
    client: TestClient, tmp_path: Path
) -> None:
    data = env_plugin(tmp_path / "p", requirements="tinydep==1.0\n", wheels={"tinydep": "1.0"})
    started = time.monotonic()
    response = upload_nowait(client, data)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "preparing"
    assert body["key"] == KEY
    # A version still preparing is shown but never used.
    assert client.get(f"{PLUGINS}/{KEY}/").json()["state"] in ("preparing", "ready")

    ready = wait_for_state(client, "1.0.0")
    elapsed = time.monotonic() - started
    print(f"\nupload-to-ready with one small requirement: {elapsed * 1000:.0f} ms")
    assert ready["state"] == "ready", ready
    assert ready["error"] is None
    assert "tinydep==1.0" in ready["install_log"]
    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    assert detail["class_path"] == "provider.EnvProvider"
    assert detail["versions"][0]["is_active"] is True

    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    assert collected(client, provider["id"])["tinydep"] == "1.0"


def test_a_failed_preparation_changes_nothing_else(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    good = env_plugin(tmp_path / "good", requirements="tinydep==1.0\n", wheels={"tinydep": "1.0"})
    assert upload(client, good).status_code == 201
    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    assert collected(client, provider["id"])["tinydep"] == "1.0"

    bad = env_plugin(tmp_path / "bad", version="2.0.0", requirements="not-shipped-anywhere==9.9\n")
    response = upload_nowait(client, bad)
    assert response.status_code == 202, response.text

    failed = wait_for_state(client, "2.0.0")
    assert failed["state"] == "failed"
    assert failed["error"].startswith("requirements.txt: installing the requirements failed")
    assert "not-shipped-anywhere" in failed["error"]
    assert "not-shipped-anywhere" in failed["install_log"]
    assert failed["is_active"] is False
    assert not (stored_folder(settings, response.json()["sha256"], "2.0.0") / "venv").exists()

    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    assert detail["version"] == "1.0.0"
    assert detail["state"] == "ready"
    assert collected(client, provider["id"])["tinydep"] == "1.0"

    # A failed version is replaced by re-uploading it with force.
    fixed = env_plugin(
        tmp_path / "fixed",
        version="2.0.0",
        requirements="tinydep==2.0\n",
        wheels={"tinydep": "2.0"},
    )
    assert upload(client, fixed).status_code == 409
    response = upload(client, fixed, force=True)
    assert response.status_code == 201, response.text
    assert response.json()["replaced"] is True
    assert version_of(client, "2.0.0")["state"] == "ready"
    assert collected(client, provider["id"])["tinydep"] == "2.0"


def test_a_plugin_only_preparing_or_failed_is_shown_by_its_newest_version(
    client: TestClient, tmp_path: Path
) -> None:
    bad = env_plugin(tmp_path / "bad", requirements="not-shipped-anywhere==9.9\n")
    assert upload_nowait(client, bad).status_code == 202

    assert wait_for_state(client, "1.0.0")["state"] == "failed"
    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    assert detail["state"] == "failed"
    assert "not-shipped-anywhere" in detail["error"]
    listed = {p["key"]: p for p in client.get(f"{PLUGINS}/").json()}
    assert listed[KEY]["state"] == "failed"
    # Nothing runs it: there is no ready version.
    assert client.post(f"{PLUGINS}/{KEY}/test/").status_code == 404


def test_offline_uploads_use_the_service_wheelhouse(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    settings.wheelhouse = tmp_path / "wheelhouse"
    wheel(settings.wheelhouse, "tinydep", "3.0", 'VERSION = "3.0"\n')
    response = upload(client, env_plugin(tmp_path / "p", requirements="tinydep==3.0\n"))
    assert response.status_code == 201, response.text

    provider = create_provider(client, name="env", vendor="envvendor", provider_type="envtype")
    assert collected(client, provider["id"])["tinydep"] == "3.0"


def test_offline_a_missing_wheel_fails_fast_without_an_index(
    client: TestClient, tmp_path: Path
) -> None:
    data = env_plugin(tmp_path / "p", requirements="not-shipped-anywhere==9.9\n")
    started = time.monotonic()
    response = upload(client, data)
    assert time.monotonic() - started < 30
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "requirements.txt: installing the requirements failed" in str(detail)
    assert "index" in str(detail).lower()
    assert client.get(f"{PLUGINS}/{KEY}/").status_code == 404


def test_deleting_the_plugin_removes_its_environment_at_refresh(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    data = env_plugin(tmp_path / "p", requirements="tinydep==1.0\n", wheels={"tinydep": "1.0"})
    response = upload(client, data)
    assert response.status_code == 201, response.text
    folder = stored_folder(settings, response.json()["sha256"])
    assert (folder / "venv" / "bin" / "python").is_file()

    assert client.delete(f"{PLUGINS}/{KEY}/").status_code == 204
    refreshed = client.post(f"{PLUGINS}/refresh/").json()

    assert refreshed["removed_folders"] == 1
    assert not folder.exists()
