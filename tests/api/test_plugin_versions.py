"""Which stored version jobs use: the highest SemVer, whatever the upload order."""

from pathlib import Path

from fastapi.testclient import TestClient

from factories import API, fixture_plugin, plugin_dir, tarball, upload


def _upload_version(client, tmp_path, version):
    folder = fixture_plugin("seed", tmp_path / version, version=version)
    response = upload(client, tarball(folder))
    assert response.status_code == 201, response.text


def test_an_older_upload_does_not_roll_the_plugin_back(client: TestClient, tmp_path: Path) -> None:
    _upload_version(client, tmp_path, "1.1.0")
    _upload_version(client, tmp_path, "1.0.0")

    detail = client.get(f"{API}/provider-plugins/myvendor:myplatform/").json()

    assert detail["version"] == "1.1.0"
    active = [v["version"] for v in detail["versions"] if v["is_active"]]
    assert active == ["1.1.0"]
    assert sorted(v["version"] for v in detail["versions"]) == ["1.0.0", "1.1.0"]


def test_a_release_outranks_its_release_candidate(client: TestClient, tmp_path: Path) -> None:
    _upload_version(client, tmp_path, "2.0.0")
    _upload_version(client, tmp_path, "2.0.0-rc.1")

    assert client.get(f"{API}/provider-plugins/myvendor:myplatform/").json()["version"] == "2.0.0"


def test_a_builtin_version_is_read_only(client: TestClient, tmp_path: Path) -> None:
    from pathlib import Path

    import yaml

    source = Path(__file__).resolve().parents[2] / "plugins/simulated/datacenter"
    data = yaml.safe_load((source / "manifest.yml").read_text())
    folder = plugin_dir(
        tmp_path / "sim",
        provider=(source / "provider.py").read_text(),
        manifest_data=data,
        extra_files={
            name: (source / name).read_text()
            for name in ("machines.py", "operations.py", "images.py")
        },
    )
    before = client.get(f"{API}/provider-plugins/simulated:datacenter/").json()

    response = upload(client, tarball(folder), force=True)

    assert response.status_code == 409, response.text
    assert "built-in (managed) version and read-only" in response.json()["detail"]
    assert client.get(f"{API}/provider-plugins/simulated:datacenter/").json() == before
