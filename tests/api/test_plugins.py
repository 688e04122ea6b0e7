"""The seed's "Plugin management API": list, detail, upload, immutability, versions, delete, test, refresh.

Every upload goes through the real app; every plugin is defined, tested and collected
by a real child process. Requirements come from wheels shipped in the archive with
``settings.offline`` on, so nothing here touches the network.
"""

import hashlib
import importlib.util
import os
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from estate.config import Settings
from factories import (
    API,
    collect,
    create_provider,
    fixture_plugin,
    tarball,
    upload,
    wheel,
)

PLUGINS = f"{API}/provider-plugins"
KEY = "myvendor:myplatform"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest settings, offline: requirements install from the archive's wheels only."""
    settings.offline = True
    return settings


def seed_plugin(root: Path, version: str = "1.0.0", count: int = 3, **manifest_overrides) -> bytes:
    folder = fixture_plugin(
        "seed", root, constants={"COUNT": count}, version=version, **manifest_overrides
    )
    return tarball(folder)


def dep_plugin(root: Path, vendor: str, provider_type: str, dep_version: str) -> bytes:
    """A plugin that needs ``tinydep==<dep_version>``, shipping its wheel under ``wheels/``."""
    folder = fixture_plugin(
        "needs_tinydep",
        root,
        constants={"VENDOR": vendor, "PROVIDER_TYPE": provider_type},
        vendor=vendor,
        provider_type=provider_type,
    )
    (folder / "requirements.txt").write_text(f"# pinned for this plugin\ntinydep=={dep_version}\n")
    wheel(folder / "wheels", "tinydep", dep_version, f'VERSION = "{dep_version}"\n')
    return tarball(folder)


def stored_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".incoming")


def resources_of(client, provider_id: int) -> list[dict]:
    response = client.get(f"{API}/resources/", params={"provider": provider_id})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_list_includes_the_managed_simulated_plugin(client: TestClient) -> None:
    response = client.get(f"{PLUGINS}/", params={"page_size": 100})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    plugins = {p["key"]: p for p in body["results"]}
    simulated = plugins["simulated:datacenter"]
    assert simulated["source"] == "managed"
    assert simulated["state"] == "ready"
    assert "virtual_machine" in simulated["supported_resource_types"]
    assert body["count"] == len(body["results"])


def test_upload_answers_with_the_registered_plugin(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    data = seed_plugin(tmp_path / "plugin", ansible_collection="myvendor.myplatform")
    response = upload(client, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"] == KEY
    assert body["version"] == "1.0.0"
    assert body["class_path"] == "provider.MyProvider"
    assert body["supported_resource_types"] == ["virtual_machine"]
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["replaced"] is False

    stored = settings.plugins_dir / "myvendor" / "myplatform" / f"1.0.0-{body['sha256'][:12]}"
    assert (stored / "plugin" / "manifest.yml").is_file()
    assert (stored / "plugin" / "provider.py").read_text() == (
        tmp_path / "plugin" / "provider.py"
    ).read_text()

    listed = {p["key"]: p for p in client.get(f"{PLUGINS}/").json()}
    assert listed[KEY]["version"] == "1.0.0"
    assert listed[KEY]["source"] == "local"


def test_detail_shows_manifest_dependencies_and_versions(
    client: TestClient, tmp_path: Path
) -> None:
    data = dep_plugin(tmp_path / "plugin", "depvendor", "deptype", "1.0")
    assert upload(client, data).status_code == 201

    response = client.get(f"{PLUGINS}/depvendor:deptype/")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["key"] == "depvendor:deptype"
    assert detail["dependencies"]["python"] == ["tinydep==1.0"]
    assert detail["dependencies"]["collections"] == []
    assert [v["version"] for v in detail["versions"]] == ["1.0.0"]
    assert detail["versions"][0]["is_active"] is True
    assert detail["manifest"]["vendor"] == "depvendor"
    assert detail["manifest"]["supported_resource_types"] == ["virtual_machine"]


def test_unknown_manifest_keys_are_kept_and_shown(client: TestClient, tmp_path: Path) -> None:
    data = seed_plugin(
        tmp_path / "plugin",
        ansible_collection="myvendor.myplatform",
        build_ignore=["tests"],
    )
    assert upload(client, data).status_code == 201
    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    assert detail["manifest"]["ansible_collection"] == "myvendor.myplatform"
    assert detail["manifest"]["build_ignore"] == ["tests"]


def test_an_installed_version_is_immutable_even_with_force(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    first = seed_plugin(tmp_path / "a")
    assert upload(client, first).status_code == 201
    before = client.get(f"{PLUGINS}/{KEY}/").json()
    files_before = stored_files(settings.plugins_dir)

    second = seed_plugin(tmp_path / "b", count=5)
    for force in (False, True):
        response = upload(client, second, force=force)
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert "myvendor:myplatform 1.0.0" in detail and "immutable" in detail
        assert before["sha256"] in detail
        assert hashlib.sha256(second).hexdigest() in detail
        assert client.get(f"{PLUGINS}/{KEY}/").json() == before
        assert stored_files(settings.plugins_dir) == files_before


def test_new_version_becomes_active_and_older_stays_stored(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    old = upload(client, seed_plugin(tmp_path / "a")).json()
    new = upload(client, seed_plugin(tmp_path / "b", version="1.1.0", count=4))
    assert new.status_code == 201, new.text
    assert new.json()["version"] == "1.1.0"

    detail = client.get(f"{PLUGINS}/{KEY}/").json()
    assert detail["version"] == "1.1.0"
    versions = {v["version"]: v for v in detail["versions"]}
    assert set(versions) == {"1.0.0", "1.1.0"}
    assert versions["1.1.0"]["is_active"] is True
    assert versions["1.0.0"]["is_active"] is False
    old_folder = settings.plugins_dir / "myvendor" / "myplatform" / f"1.0.0-{old['sha256'][:12]}"
    assert (old_folder / "plugin" / "provider.py").read_text().count("COUNT = 3") == 1

    provider = create_provider(client, name="Mine", vendor="myvendor", provider_type="myplatform")
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["plugin_version"] == "1.1.0"
    assert run["resources_found"] == 4


def test_delete_removes_the_plugin(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    upload(client, seed_plugin(tmp_path / "a"))
    upload(client, seed_plugin(tmp_path / "b", version="2.0.0"))

    response = client.delete(f"{PLUGINS}/{KEY}/")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"{PLUGINS}/{KEY}/").status_code == 404
    keys = [p["key"] for p in client.get(f"{PLUGINS}/").json()]
    assert KEY not in keys

    refreshed = client.post(f"{PLUGINS}/refresh/")
    assert refreshed.status_code == 200
    assert refreshed.json()["removed_folders"] == 2
    assert not list((settings.plugins_dir / "myvendor" / "myplatform").iterdir())


def test_delete_of_a_plugin_in_use_needs_force(client: TestClient, tmp_path: Path) -> None:
    upload(client, seed_plugin(tmp_path / "a"))
    provider = create_provider(client, name="Mine", vendor="myvendor", provider_type="myplatform")

    response = client.delete(f"{PLUGINS}/{KEY}/")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "1 provider" in detail and "?force=true" in detail
    assert client.get(f"{PLUGINS}/{KEY}/").status_code == 200

    assert client.delete(f"{PLUGINS}/{KEY}/", params={"force": "true"}).status_code == 204
    assert client.get(f"{PLUGINS}/{KEY}/").status_code == 404
    # The provider stays, and says its plugin is gone.
    assert client.get(f"{API}/providers/{provider['id']}/").json()["plugin_installed"] is False


def test_unknown_key_answers_404(client: TestClient) -> None:
    for response in (
        client.get(f"{PLUGINS}/nobody:nothing/"),
        client.delete(f"{PLUGINS}/nobody:nothing/"),
        client.post(f"{PLUGINS}/nobody:nothing/test/"),
    ):
        assert response.status_code == 404
        assert "nobody:nothing" in response.json()["detail"]


def test_connectivity_test_reports_each_provider(client: TestClient) -> None:
    good = create_provider(
        client, name="Good", connection_config={"username": "u", "password": "simulated"}
    )
    bad = create_provider(
        client, name="Bad", connection_config={"username": "u", "password": "hunter2-wrong"}
    )

    response = client.post(f"{PLUGINS}/simulated:datacenter/test/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["key"] == "simulated:datacenter"
    results = {r["provider"]: r for r in body["results"]}
    assert results[good["id"]]["ok"] is True
    assert results[good["id"]]["name"] == "Good"
    assert results[bad["id"]]["ok"] is False
    assert results[bad["id"]]["message"]
    assert "hunter2-wrong" not in response.text


def test_refresh_rescans_the_registry(client: TestClient, tmp_path: Path) -> None:
    upload(client, seed_plugin(tmp_path / "a"))
    response = client.post(f"{PLUGINS}/refresh/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "simulated:datacenter" in body["plugins"]
    assert KEY in body["plugins"]
    assert body["problems"] == []
    assert body["removed_folders"] == 0
    assert client.get(f"{PLUGINS}/{KEY}/").status_code == 200


def test_requirements_install_into_the_versions_own_environment(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    response = upload(client, dep_plugin(tmp_path / "plugin", "depvendor", "deptype", "1.0"))
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "ready"
    stored = (
        settings.plugins_dir / "depvendor" / "deptype" / f"1.0.0-{response.json()['sha256'][:12]}"
    )
    assert (stored / "venv" / "bin" / "python").is_file()
    assert "tinydep==1.0" in client.get(f"{PLUGINS}/depvendor:deptype/").json()["install_log"]
    # The service process cannot import it: only that plugin version's children can.
    assert importlib.util.find_spec("tinydep") is None

    provider = create_provider(client, name="Dep", vendor="depvendor", provider_type="deptype")
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    [resource] = resources_of(client, provider["id"])
    assert resource["properties"]["tinydep_version"] == "1.0"
    assert Path(resource["properties"]["tinydep_file"]).is_relative_to(stored / "venv")


def test_two_plugins_pin_different_versions_of_one_package(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    venvs = {}
    for name, dep_version in (("one", "1.0"), ("two", "2.0")):
        data = dep_plugin(tmp_path / name, "depvendor", name, dep_version)
        response = upload(client, data)
        assert response.status_code == 201, response.text
        sha = response.json()["sha256"]
        venvs[name] = settings.plugins_dir / "depvendor" / name / f"1.0.0-{sha[:12]}" / "venv"

    seen = {}
    for name in ("one", "two"):
        provider = create_provider(client, name=name, vendor="depvendor", provider_type=name)
        run = collect(client, provider["id"])
        assert run["status"] == "completed", run
        [resource] = resources_of(client, provider["id"])
        seen[name] = resource["properties"]["tinydep_version"]
        # Each from its own environment.
        assert Path(resource["properties"]["tinydep_file"]).is_relative_to(venvs[name])
    assert seen == {"one": "1.0", "two": "2.0"}
    assert importlib.util.find_spec("tinydep") is None


def test_reupload_of_identical_bytes_answers_the_stored_version(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    data = seed_plugin(tmp_path / "a")
    first = upload(client, data).json()
    folder = settings.plugins_dir / "myvendor" / "myplatform" / f"1.0.0-{first['sha256'][:12]}"
    marker = (folder / "plugin" / "provider.py").stat().st_ino

    for force in (False, True):
        response = upload(client, data, force=force)
        assert response.status_code == 200, response.text
        assert response.json()["replaced"] is False
        assert response.json()["sha256"] == first["sha256"]
    # Nothing was installed again: the stored folder is the one it was.
    assert (folder / "plugin" / "provider.py").stat().st_ino == marker
    assert len(client.get(f"{PLUGINS}/{KEY}/").json()["versions"]) == 1
    assert client.post(f"{PLUGINS}/refresh/").json()["removed_folders"] == 0


def test_zip_upload_with_a_top_level_folder(client: TestClient, tmp_path: Path) -> None:
    folder = fixture_plugin("seed", tmp_path / "vcenter", version="3.0.0")
    archive = tmp_path / "plugin.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.iterdir()):
            zipped.write(path, f"vcenter/{path.name}")
    data = archive.read_bytes()
    response = client.post(
        f"{PLUGINS}/upload/", files={"plugin": ("plugin.zip", data, "application/zip")}
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == "3.0.0"
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    provider = create_provider(client, name="Zip", vendor="myvendor", provider_type="myplatform")
    assert collect(client, provider["id"])["resources_found"] == 3


def test_a_plugin_that_prints_while_importing_still_installs(
    client: TestClient, tmp_path: Path
) -> None:
    # Misbehaving on purpose, so written here: it writes to stdout as it is imported.
    chatty = 'import sys\n\nsys.stdout.write("banner without a newline")\n'
    data = tarball(fixture_plugin("seed", tmp_path / "plugin", header=chatty))
    response = upload(client, data)
    assert response.status_code == 201, response.text
    assert response.json()["class_path"] == "provider.MyProvider"
    provider = create_provider(client, name="Chatty", vendor="myvendor", provider_type="myplatform")
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert (
        "banner without a newline"
        in client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    )


def define_processes(store: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, NotADirectoryError):
            continue
        if "inventory_providers define" in line and str(store) in line:
            found.append(line)
    return found


def test_the_service_answers_while_an_upload_installs(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    # Misbehaving on purpose, so written here: it takes 2 s to import.
    slow = "import time\n\ntime.sleep(2)\n"
    data = tarball(fixture_plugin("seed", tmp_path / "plugin", header=slow))
    with ThreadPoolExecutor(1) as pool:
        uploading = pool.submit(upload, client, data)
        deadline = time.monotonic() + 15
        while not define_processes(settings.plugins_dir) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert define_processes(settings.plugins_dir), "the upload never started its define step"
        started = time.monotonic()
        assert client.get(f"{API}/ping/").status_code == 200
        assert time.monotonic() - started < 1.0
        assert not uploading.done()
        assert uploading.result().status_code == 201


def test_refresh_spares_an_upload_in_progress(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    # Misbehaving on purpose, so written here: it takes 1 s to import.
    slow = "import time\n\ntime.sleep(1)\n"
    data = tarball(fixture_plugin("seed", tmp_path / "plugin", header=slow))
    abandoned = settings.plugins_dir / ".incoming" / "tmp-abandoned"
    abandoned.mkdir(parents=True)
    old = time.time() - 2 * 24 * 3600
    os.utime(abandoned, (old, old))
    with ThreadPoolExecutor(1) as pool:
        uploading = pool.submit(upload, client, data)
        deadline = time.monotonic() + 15
        while not define_processes(settings.plugins_dir) and time.monotonic() < deadline:
            time.sleep(0.02)
        refreshed = client.post(f"{PLUGINS}/refresh/")
        assert refreshed.status_code == 200, refreshed.text
        response = uploading.result()
    assert response.status_code == 201, response.text
    assert not abandoned.exists()
    provider = create_provider(client, name="Mine", vendor="myvendor", provider_type="myplatform")
    assert collect(client, provider["id"])["status"] == "completed"
