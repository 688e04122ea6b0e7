"""Every built-in plugin folder is a plugin like any other: it packs into an archive the
upload checks accept, and the service registers it ready at start, with the key its
folder names and the seed's connection parameters where the seed shows a payload."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import REPO
from estate.registry.archive import extract, find_root, pack
from estate.registry.managed import plugin_folders
from estate.registry.manifest import parse_manifest
from factories import API

BUILTIN = plugin_folders(REPO / "plugins")
SEED_PARAMETERS = {  # seed 000's two curl payloads
    "vmware:vcenter": {"username", "password", "port", "verify_ssl"},
    "aws:aws": {"username", "password", "region"},
}


@pytest.mark.parametrize(
    "folder", BUILTIN, ids=lambda folder: f"{folder.parent.name}:{folder.name}"
)
def test_a_builtin_folder_packs_into_an_archive_the_upload_accepts(
    folder: Path, tmp_path: Path
) -> None:
    extract(pack(folder), tmp_path, max_bytes=64 * 1024 * 1024)
    root = find_root(tmp_path, require_provider=False)
    manifest = parse_manifest((root / "manifest.yml").read_bytes())

    assert manifest.key == f"{folder.parent.name}:{folder.name}"
    assert manifest.supported_resource_types, "it says what it collects"


def test_every_builtin_plugin_is_registered_ready_at_start(client: TestClient) -> None:
    listed = client.get(f"{API}/provider-plugins/").json()["results"]
    plugins = {plugin["key"]: plugin for plugin in listed}

    for folder in BUILTIN:
        key = f"{folder.parent.name}:{folder.name}"
        assert plugins[key]["source"] == "managed", key
        assert plugins[key]["state"] == "ready", plugins[key]
    for key, names in SEED_PARAMETERS.items():
        detail = client.get(f"{API}/provider-plugins/{key}/").json()
        declared = {p["name"] for p in detail["manifest"]["connection_parameters"]}
        assert names <= declared, (key, names - declared)
    assert len(BUILTIN) >= 8
