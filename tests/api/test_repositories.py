"""Remote plugin repositories with two real Estates: the remote a real ``estate serve``
child process holding uploaded, signed versions, and a static index written by
``estate plugin index export`` from its data directory, served by ``python -m
http.server`` in a child process. Register, sync, list, install, trust, tamper, outage."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD, REPO, SECRET_KEY
from estate.api.app import create_app
from estate.config import Settings
from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_text
from factories import API, collect, create_provider, fixture_plugin, tarball
from served import ESTATE, clean_env, free_port, serving, static_server

HOT = "hot:load"


@dataclass
class Remote:
    url: str  # the remote Estate
    token: str  # an API token of its admin
    public_key: str  # the key its hot:load 1.1.0 and 1.2.0-rc.1 are signed with
    site: Path  # the static index exported from its data directory
    shas: dict[str, str]  # hot:load version -> sha256 of its archive


def _remote_env(environments_dir: Path) -> dict[str, str]:
    """A remote ``estate serve``'s environment: SQLite in its own data directory."""
    return {
        "ESTATE_SECRET_KEY": SECRET_KEY,
        "ESTATE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ESTATE_BUILTIN_PLUGINS_DIR": str(REPO / "plugins"),
        "ESTATE_ENVIRONMENTS_DIR": str(environments_dir),
    }


def _hot(root: Path, version: str) -> Path:
    return fixture_plugin("hot_load", root, constants={"PREFIX": version}, version=version)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, environments_dir: Path) -> Iterator[Remote]:
    """A real remote Estate: hot:load 1.0.0 unsigned, 1.1.0 and 1.2.0-rc.1 signed by a key
    in its keyring; and a static index exported from its data directory."""
    root = tmp_path_factory.mktemp("remote")
    private = new_private_key()
    with (
        serving(root / "service", **_remote_env(environments_dir)) as service,
        httpx.Client(
            base_url=f"{service.url}{API}", auth=("admin", ADMIN_PASSWORD), timeout=60
        ) as api,
    ):
        public = public_text(private.public_key())
        assert api.post("/signing-keys/", json={"name": "rel", "public_key": public}).is_success
        shas = {}
        for version in ("1.0.0", "1.1.0", "1.2.0-rc.1"):
            folder = _hot(root / version, version)
            if version != "1.0.0":
                sign_package(folder, private)
            data = tarball(folder)
            answer = api.post(
                "/provider-plugins/upload/",
                files={"plugin": ("p.tar.gz", data, "application/gzip")},
            )
            assert answer.status_code == 201, answer.text
            shas[version] = hashlib.sha256(data).hexdigest()
        token = api.post("/tokens/", json={"name": "mirror"}).json()["token"]
        site = root / "site"
        done = subprocess.run(
            [str(ESTATE), "plugin", "index", "export", str(site)],
            env=clean_env(ESTATE_DATA_DIR=str(root / "service" / ".estate")),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield Remote(service.url, token, public, site, shas)


def _register(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/repositories/", json={"kind": "estate", **body})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _sync(client: TestClient, repository: dict[str, Any]) -> httpx.Response:
    return client.post(f"{API}/repositories/{repository['id']}/sync/")


def _install(client: TestClient, **body: Any) -> httpx.Response:
    return client.post(f"{API}/provider-plugins/install/", json={"key": HOT, **body})


def _import(client: TestClient, public: str) -> None:
    answer = client.post(f"{API}/signing-keys/", json={"name": "remote", "public_key": public})
    assert answer.status_code == 201, answer.text


def test_install_from_a_remote_estate_follows_the_trust_policy_and_the_version_runs(
    client: TestClient, remote: Remote, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = _register(client, name="upstream", url=remote.url, token="not-the-token")
    assert upstream["token_set"] is True and "not-the-token" not in json.dumps(upstream)

    refused = _sync(client, upstream)

    index_url = f"{remote.url}/api/inventory/v1/provider-plugins/index/"
    assert refused.status_code == 502, refused.text
    assert refused.json()["detail"].startswith(f"HTTP 401 from {index_url}")
    shown = client.get(f"{API}/repositories/{upstream['id']}/").json()
    assert (shown["last_sync_status"], shown["last_error"]) == ("error", refused.json()["detail"])
    assert shown["offered"] == 0

    patched = client.patch(f"{API}/repositories/{upstream['id']}/", json={"token": remote.token})
    assert patched.status_code == 200 and remote.token not in patched.text
    synced = _sync(client, upstream)
    assert synced.status_code == 200, synced.text
    assert synced.json()["repository"]["last_sync_status"] == "ok"
    assert synced.json()["offered"] == synced.json()["repository"]["offered"] > 3

    offered = client.get(f"{API}/repositories/{upstream['id']}/plugins/", params={"key": HOT})
    assert [v["version"] for v in offered.json()["results"]] == ["1.1.0", "1.0.0"]
    assert offered.json()["count"] == 2
    first = client.get(
        f"{API}/repositories/{upstream['id']}/plugins/", params={"key": HOT, "page_size": 1}
    ).json()
    second = client.get(first["next"]).json()
    assert (first["count"], second["count"], second["next"]) == (2, 2, None)
    assert [first["results"][0]["version"], second["results"][0]["version"]] == ["1.1.0", "1.0.0"]
    with_rc = client.get(
        f"{API}/repositories/{upstream['id']}/plugins/", params={"key": HOT, "prerelease": "true"}
    ).json()
    assert [v["version"] for v in with_rc["results"]] == ["1.2.0-rc.1", "1.1.0", "1.0.0"]
    assert not any(v["installed"] for v in with_rc["results"])
    assert {v["version"]: v["sha256"] for v in with_rc["results"]} == remote.shas

    unsigned = _install(client, version="1.0.0")
    assert unsigned.status_code == 400, unsigned.text
    assert "not signed, and unsigned plugins from remote sources are refused" in unsigned.text
    untrusted = _install(client)  # null: the latest compatible release, 1.1.0
    assert untrusted.status_code == 400, untrusted.text
    assert "which is not in the keyring" in untrusted.json()["detail"]
    assert client.get(f"{API}/provider-plugins/{HOT}/").status_code == 404  # nothing stored

    _import(client, remote.public_key)
    installed = _install(client)

    assert installed.status_code == 201, installed.text
    body = installed.json()
    assert (body["version"], body["outcome"], body["source"], body["repository"]) == (
        "1.1.0", "installed", "remote", "upstream",
    )  # fmt: skip
    assert (body["trust"], body["signature_status"]) == ("trusted", "valid")
    assert body["sha256"] == remote.shas["1.1.0"]
    assert body["chosen_source"] == "upstream" and "only enabled repository" in body["reason"]
    again = _install(client, version="1.1.0", source="upstream")
    assert (again.status_code, again.json()["outcome"]) == (200, "existing")

    listed = {p["key"]: p for p in client.get(f"{API}/provider-plugins/").json()}
    assert (listed[HOT]["source"], listed[HOT]["repository"]) == ("remote", "upstream")
    (version,) = client.get(f"{API}/provider-plugins/{HOT}/versions/").json()
    assert (version["source"], version["repository"]) == ("remote", "upstream")
    now = client.get(f"{API}/repositories/{upstream['id']}/plugins/", params={"key": HOT}).json()[
        "results"
    ]
    assert [(v["installed"], v["installed_sha256_matches"]) for v in now] == [
        (True, True), (False, None),
    ]  # fmt: skip
    # This installation now offers the very archive it installed.
    archive = client.get(f"{API}/provider-plugins/{HOT}/versions/1.1.0/archive/")
    assert archive.headers["content-type"] == "application/gzip"
    assert hashlib.sha256(archive.content).hexdigest() == remote.shas["1.1.0"]
    assert archive.headers["x-checksum-sha256"] == remote.shas["1.1.0"]

    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    names = {r["name"] for r in client.get(f"{API}/resources/").json()["results"]}
    assert "1.1.0-vm-0" in names
    audit = client.get(f"{API}/audit/", params={"page_size": 1000}).text
    assert "repositories.sync" in audit and "provider-plugins.install" in audit
    for secret in (remote.token, "not-the-token"):
        assert secret not in audit and secret not in caplog.text
        assert secret not in client.get(f"{API}/repositories/").text


def test_a_static_index_two_sources_a_tampered_archive_a_bad_index_and_an_outage(
    client: TestClient, remote: Remote, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(remote.site, site)
    _import(client, remote.public_key)
    upstream = _register(client, name="upstream", url=remote.url, token=remote.token)
    assert _sync(client, upstream).status_code == 200
    with static_server(site) as (url, server):
        mirror = _register(client, name="mirror", kind="static", url=url + "/")
        synced = _sync(client, mirror)
        assert synced.status_code == 200, synced.text
        offered = synced.json()["offered"]

        ambiguous = _install(client, version="1.1.0")
        assert ambiguous.status_code == 409, ambiguous.text
        assert "upstream (1.1.0)" in ambiguous.text and "mirror (1.1.0)" in ambiguous.text
        assert client.get(f"{API}/provider-plugins/{HOT}/").status_code == 404

        client.patch(f"{API}/repositories/{mirror['id']}/", json={"priority": 10})
        chosen = _install(client, version="~1.1")
        assert chosen.status_code == 201, chosen.text
        assert (chosen.json()["chosen_source"], chosen.json()["repository"]) == ("mirror",) * 2
        assert "lowest priority number (10)" in chosen.json()["reason"]
        assert "upstream (priority 100, 1.1.0)" in chosen.json()["reason"]

        # Tampered: the rc's archive replaced by other (valid) bytes.
        rc = site / "archives" / "hot-load-1.2.0-rc.1.tar.gz"
        rc.write_bytes((site / "archives" / "hot-load-1.0.0.tar.gz").read_bytes())
        tampered = _install(client, version="1.2.0-rc.1", source="mirror")
        assert tampered.status_code == 502, tampered.text
        assert remote.shas["1.2.0-rc.1"] in tampered.text
        assert remote.shas["1.0.0"] in tampered.text and "nothing installed" in tampered.text
        versions = client.get(f"{API}/provider-plugins/{HOT}/versions/").json()
        assert [v["version"] for v in versions] == ["1.1.0"]

        # A bad index: refused naming the field; what the last sync cached stays.
        good = (site / "index.json").read_text()
        document = json.loads(good)
        document["plugins"][0]["versions"][0]["sha256"] = "xyz"
        (site / "index.json").write_text(json.dumps(document))
        bad = _sync(client, mirror)
        assert bad.status_code == 502, bad.text
        assert f"{url}/index.json: plugins[0].versions[0].sha256: " in bad.json()["detail"]
        shown = client.get(f"{API}/repositories/{mirror['id']}/").json()
        assert (shown["last_sync_status"], shown["offered"]) == ("error", offered)
        (site / "index.json").write_text(good)
        server.kill()
        server.wait(timeout=10)

        down = _sync(client, mirror)

        assert down.status_code == 502, down.text
        assert down.json()["detail"] == f"connection refused to {url}/index.json"
        shown = client.get(f"{API}/repositories/{mirror['id']}/").json()
        assert (shown["last_sync_status"], shown["last_error"]) == ("error", down.json()["detail"])
        assert shown["offered"] == offered
    # The installed version lives in the local store: the outage breaks nothing.
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    assert collect(client, provider["id"])["status"] == "completed"
    assert client.get(f"{API}/provider-plugins/{HOT}/").json()["repository"] == "mirror"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": "x", "kind": "estate", "url": "https://e.example", "urll": "x"}, "urll"),
        ({"name": "x", "kind": "estate", "url": "ftp://e.example"}, "http:// or https://"),
        ({"name": "x", "kind": "estate", "url": "https://u:p@e.example"}, "credentials"),
        ({"name": "x", "kind": "estate", "url": "https://"}, "has no host"),
        ({"name": "x", "kind": "mirror", "url": "https://e.example"}, "kind"),
        ({"name": "a b", "kind": "estate", "url": "https://e.example"}, "name"),
        ({"name": "x", "kind": "estate", "url": "https://e.example", "priority": -1}, "priority"),
    ],
)
def test_a_bad_repository_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], named: str
) -> None:
    answer = client.post(f"{API}/repositories/", json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.text
    assert client.get(f"{API}/repositories/").json()["count"] == 0


def test_bad_requests_typos_and_unknown_sources_are_refused(client: TestClient) -> None:
    created = _register(client, name="upstream", url="http://127.0.0.1:9", token="s3cret-token")
    path = f"{API}/repositories/{created['id']}/"

    assert client.post(f"{API}/repositories/", json={**created, "token": "t"}).status_code == 400
    duplicate = client.post(
        f"{API}/repositories/", json={"name": "upstream", "kind": "static", "url": "http://x"}
    )
    assert duplicate.status_code == 409 and "upstream" in duplicate.text
    assert client.patch(path, json={"name": None}).status_code == 400
    assert client.patch(path, json={"prioritee": 1}).status_code == 400
    assert client.get(f"{path}plugins/", params={"prerelase": "true"}).status_code == 400
    assert client.get(f"{API}/repositories/99999/").status_code == 404
    assert _install(client, versoin="1").status_code == 400
    unknown = _install(client, source="elsewhere")
    assert unknown.status_code == 400 and "source: no repository named 'elsewhere'" in unknown.text
    never = _install(client)
    assert never.status_code == 400 and "never synced: upstream (sync it first)" in never.text
    assert _install(client, key="no-colon").status_code == 400
    put = client.put(path, json={"name": "renamed", "kind": "static", "url": "http://y/i.json"})
    assert put.status_code == 200, put.text
    assert (put.json()["name"], put.json()["token_set"]) == ("renamed", True)
    assert client.patch(path, json={"token": None}).json()["token_set"] is False
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_offline_never_contacts_a_repository(client: TestClient, settings: Settings) -> None:
    # Nothing listens on port 9: contacting it would answer 502, not 503.
    created = _register(client, name="upstream", url="http://127.0.0.1:9")
    with TestClient(create_app(settings.model_copy(update={"offline": True}))) as offline:
        offline.auth = ("admin", ADMIN_PASSWORD)
        sync = offline.post(f"{API}/repositories/{created['id']}/sync/")
        install = offline.post(f"{API}/provider-plugins/install/", json={"key": HOT})
    assert sync.status_code == 503 and "ESTATE_OFFLINE=1" in sync.text
    assert install.status_code == 503 and "ESTATE_OFFLINE=1" in install.text
    assert client.get(f"{API}/repositories/{created['id']}/").json()["last_sync_at"] is None


RECORDING = """
import functools, http.server, sys
port, folder, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as out:
            out.write(f"{self.path} {self.headers.get('Authorization')}\\n")
        super().do_GET()
    def log_message(self, *args):
        pass
handler = functools.partial(Handler, directory=folder)
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""


@contextmanager
def recording_server(site: Path, log: Path) -> Iterator[str]:
    """A file server that writes each request's path and Authorization header to ``log``."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECORDING, str(port), str(site), str(log)])
    try:
        deadline = time.monotonic() + 20
        while not log.exists():
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/probe", timeout=1)
            assert time.monotonic() < deadline, "the recording server did not answer"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_an_index_signature_vouches_for_an_archive_without_one_and_the_token_stays_home(
    client: TestClient, tmp_path: Path
) -> None:
    private = new_private_key()
    folder = _hot(tmp_path / "box", "3.0.0")
    sign_package(folder, private)
    signature = json.loads((folder / "SIGNATURE").read_text())
    (folder / "SIGNATURE").unlink()  # as a built-in's: the signature is in the index only
    data = tarball(folder)
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (elsewhere / "hot-3.0.0.tar.gz").write_bytes(data)
    with (
        recording_server(home, tmp_path / "home.log") as home_url,
        recording_server(elsewhere, tmp_path / "elsewhere.log") as elsewhere_url,
    ):
        version = {
            "version": "3.0.0", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "signature": signature, "archive": f"{elsewhere_url}/hot-3.0.0.tar.gz",
        }  # fmt: skip
        plugin = {"key": HOT, "vendor": "hot", "provider_type": "load", "versions": [version]}
        (home / "index.json").write_text(json.dumps({"schema": 1, "plugins": [plugin]}))
        static = _register(client, name="home", kind="static", url=home_url, token="home-token")
        assert _sync(client, static).status_code == 200
        _import(client, public_text(private.public_key()))

        installed = _install(client, version="3.0.0")

        assert installed.status_code == 201, installed.text
        assert (installed.json()["signature_status"], installed.json()["trust"]) == (
            "valid", "trusted",
        )  # fmt: skip
        # A file:// archive is refused at sync, naming it; the cache stays.
        version["archive"] = "file:///etc/passwd"
        (home / "index.json").write_text(json.dumps({"schema": 1, "plugins": [plugin]}))
        refused = _sync(client, static)
        assert refused.status_code == 502, refused.text
        assert "plugins[0].versions[0].archive: not an http(s) URL" in refused.text
        assert client.get(f"{API}/repositories/{static['id']}/").json()["offered"] == 1
    assert "/index.json Token home-token" in (tmp_path / "home.log").read_text()
    assert (tmp_path / "elsewhere.log").read_text().splitlines()[-1] == "/hot-3.0.0.tar.gz None"


def _wait_refused(url: str) -> None:
    """Until a connection to ``url`` is refused: a killed server's socket closes as it dies."""
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} still accepts connections")


def test_a_stopped_remote_estate_breaks_nothing_installed_and_its_sync_says_so(
    client: TestClient, tmp_path: Path, environments_dir: Path
) -> None:
    private = new_private_key()
    public = public_text(private.public_key())
    folder = _hot(tmp_path / "v4", "4.0.0")
    sign_package(folder, private)
    with (
        serving(tmp_path / "remote", **_remote_env(environments_dir)) as service,
        httpx.Client(
            base_url=f"{service.url}{API}", auth=("admin", ADMIN_PASSWORD), timeout=60
        ) as api,
    ):
        assert api.post("/signing-keys/", json={"name": "rel", "public_key": public}).is_success
        files = {"plugin": ("p.tar.gz", tarball(folder), "application/gzip")}
        assert api.post("/provider-plugins/upload/", files=files).status_code == 201
        token = api.post("/tokens/", json={"name": "mirror"}).json()["token"]
        upstream = _register(client, name="upstream", url=service.url, token=token)
        assert _sync(client, upstream).status_code == 200
        _import(client, public)
        assert _install(client, version="4.0.0").status_code == 201
        os.killpg(service.pid, signal.SIGKILL)  # the remote is gone
        _wait_refused(service.url)

        down = _sync(client, upstream)

    index_url = f"{service.url}/api/inventory/v1/provider-plugins/index/"
    assert down.status_code == 502, down.text
    assert down.json()["detail"] == f"connection refused to {index_url}"
    shown = client.get(f"{API}/repositories/{upstream['id']}/").json()
    assert (shown["last_sync_status"], shown["last_error"]) == ("error", down.json()["detail"])
    assert shown["offered"] > 0  # what the last sync cached stays
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    assert collect(client, provider["id"])["status"] == "completed"
    names = {r["name"] for r in client.get(f"{API}/resources/").json()["results"]}
    assert "4.0.0-vm-0" in names
