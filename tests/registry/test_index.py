"""The repository index: built from a real service's stored versions, written as a static
index with the exact archives, read back, and refused naming the field when it is bad."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.db.models import PluginVersion
from estate.registry.errors import InvalidIndex
from estate.registry.index import (
    archive_bytes,
    archive_facts,
    index_document,
    parse_index,
    write_static_index,
)
from estate.registry.install import KEPT_ARCHIVE
from factories import fixture_plugin, tarball, upload

ESTATE = str(Path(sys.executable).parent / "estate")


def _sessions(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.context.sessions  # type: ignore[attr-defined]


def test_a_static_index_serves_the_exact_uploaded_archive_and_reads_back(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("hot_load", tmp_path / "v1", constants={"PREFIX": "1"}, version="1.0.0")
    assert upload(client, tarball(folder)).status_code == 201
    settings = client.app.state.context.settings  # type: ignore[attr-defined]

    with _sessions(client)() as session:
        document = write_static_index(session, settings, tmp_path / "site")

    index = parse_index(json.loads((tmp_path / "site" / "index.json").read_text()))
    assert index.plugins, "the built-ins are offered"
    for plugin in index.plugins:
        for version in plugin.versions:
            archive = (tmp_path / "site" / version.archive).read_bytes()
            assert hashlib.sha256(archive).hexdigest() == version.sha256
            assert len(archive) == version.size
            assert version.archive.startswith("archives/") and ":" not in version.archive
    managed = [p for p in document["plugins"] if p["versions"][0]["source"] == "managed"]
    assert managed and all(p["versions"][0]["signature"]["algorithm"] == "ed25519" for p in managed)
    with _sessions(client)() as session:
        stored = session.query(PluginVersion).filter_by(source="managed").first()
        assert stored is not None
        assert hashlib.sha256(archive_bytes(stored)).hexdigest() == stored.sha256


def test_an_upload_keeps_its_archive_and_the_index_offers_those_bytes(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("hot_load", tmp_path / "v1", constants={"PREFIX": "1"}, version="1.0.0")
    data = tarball(folder)
    answer = upload(client, data)
    assert answer.status_code == 201, answer.text
    settings = client.app.state.context.settings  # type: ignore[attr-defined]

    with _sessions(client)() as session:
        stored = session.query(PluginVersion).filter_by(key="hot:load").one()
        assert (Path(stored.path) / KEPT_ARCHIVE).read_bytes() == data
        assert archive_bytes(stored) == data
        document = index_document(
            session,
            settings,
            archive_url=lambda v: f"http://x/{v.key}/{v.version}",
            keys=["hot:load"],
        )

    (plugin,) = document["plugins"]
    (version,) = plugin["versions"]
    assert (plugin["key"], version["version"]) == ("hot:load", "1.0.0")
    assert version["sha256"] == hashlib.sha256(data).hexdigest() == answer.json()["sha256"]
    assert (version["source"], version["signature"], version["archive"]) == (
        "local", None, "http://x/hot:load/1.0.0",
    )  # fmt: skip
    assert version["files_digest"] and version["prerelease"] is False


def test_an_upload_stored_before_archives_were_kept_is_packed_and_reported_as_such(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("hot_load", tmp_path / "v1", constants={"PREFIX": "1"}, version="1.0.0")
    assert upload(client, tarball(folder)).status_code == 201
    settings = client.app.state.context.settings  # type: ignore[attr-defined]
    with _sessions(client)() as session:
        stored = session.query(PluginVersion).filter_by(key="hot:load").one()
        (Path(stored.path) / KEPT_ARCHIVE).unlink()
        document = index_document(session, settings, archive_url=str, keys=["hot:load"])
        packed = archive_bytes(stored)
    (version,) = document["plugins"][0]["versions"]
    assert version["sha256"] == hashlib.sha256(packed).hexdigest()
    assert version["size"] == len(packed)


def test_the_served_index_caches_packed_archives_and_answers_their_exact_bytes(
    client: TestClient, tmp_path: Path
) -> None:
    """Built-ins are packed for the index; the facts are cached, so the second index is
    the first, each matches the archive route's bytes, and a version stored anew (a new
    file list) is packed anew."""
    first = client.get("/api/inventory/v1/provider-plugins/index/").json()
    second = client.get("/api/inventory/v1/provider-plugins/index/").json()
    assert [p["versions"] for p in first["plugins"]] == [p["versions"] for p in second["plugins"]]
    for plugin in second["plugins"]:
        for version in plugin["versions"]:
            served = client.get(version["archive"])
            assert served.status_code == 200, served.text
            assert hashlib.sha256(served.content).hexdigest() == version["sha256"]
            assert len(served.content) == version["size"]

    folder = fixture_plugin("hot_load", tmp_path / "v1", constants={"PREFIX": "1"}, version="1.0.0")
    assert upload(client, tarball(folder)).status_code == 201
    with _sessions(client)() as session:
        stored = session.query(PluginVersion).filter_by(key="hot:load").one()
        (Path(stored.path) / KEPT_ARCHIVE).unlink()
        before = archive_facts(stored)
        assert before == archive_facts(stored)  # cached
        (Path(stored.path) / "plugin" / "NOTES.txt").write_text("a file list of its own")
        stored.files_digest = "0" * 64  # as a version stored anew would have
        after = archive_facts(stored)
    assert after != before
    assert after == (hashlib.sha256(archive_bytes(stored)).hexdigest(), len(archive_bytes(stored)))


def _good() -> dict[str, object]:
    return {
        "schema": 1,
        "plugins": [
            {
                "key": "hot:load", "vendor": "hot", "provider_type": "load",
                "versions": [{"version": "1.0.0", "sha256": "a" * 64, "size": 3, "archive": "a"}],
            }
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (
            lambda d: d["plugins"][0]["versions"][0].update(sha256="xyz"),
            "plugins[0].versions[0].sha256",
        ),
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d["plugins"][0].pop("versions"), "plugins[0].versions"),
        (lambda d: d["plugins"][0].update(key="hot:other"), "plugins[0].key"),
        (lambda d: d["plugins"][0]["versions"][0].update(size=-1), "plugins[0].versions[0].size"),
        (lambda d: d["plugins"][0].update(description="a\x00b"), "plugins[0].description"),
        (
            lambda d: d["plugins"][0]["versions"][0].update(version="1" * 101),
            "plugins[0].versions[0].version",
        ),
        (lambda d: d["plugins"].append(d["plugins"][0]), "plugins[1].key"),
    ],
)
def test_a_bad_index_is_refused_naming_the_field(
    damage: Callable[[dict[str, Any]], object], named: str
) -> None:
    assert parse_index(_good()).plugins[0].versions[0].version == "1.0.0"
    document = _good()
    damage(document)
    with pytest.raises(InvalidIndex) as caught:
        parse_index(document)
    assert str(caught.value).startswith(f"index.json: {named}: "), str(caught.value)


def test_estate_plugin_index_export_writes_a_static_index_of_a_data_directory(
    client: TestClient, tmp_path: Path
) -> None:
    settings = client.app.state.context.settings  # type: ignore[attr-defined]
    env = {**os.environ, "ESTATE_DATA_DIR": str(tmp_path / "elsewhere")}
    done = subprocess.run(
        [ESTATE, "plugin", "index", "export", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "no database here; set ESTATE_DATA_DIR" in done.stderr
    env |= {"ESTATE_DATA_DIR": str(settings.data_dir), "ESTATE_DATABASE_URL": settings.database}
    done = subprocess.run(
        [ESTATE, "plugin", "index", "export", str(tmp_path / "out"), "hot:nothing"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no ready version of hot:nothing to export" in done.stderr

    done = subprocess.run(
        [ESTATE, "plugin", "index", "export", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    index = parse_index(json.loads((tmp_path / "out" / "index.json").read_text()))
    # Rich wraps the line at the console's width (80 without a terminal): read it whole.
    assert f"{len(index.plugins)} plugin(s)" in " ".join(done.stdout.split())
