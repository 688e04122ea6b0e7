"""Command plugins through the service: the managed Node.js example, and uploads of copies.

A manifest's ``runtime.command`` replaces ``provider.py``: the service defines, stores and
collects such a plugin by running that program. Real app, real database (SQLite and
PostgreSQL), real ``node`` child processes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from estate.config import Settings
from estate.db.models import PluginVersion
from factories import API, all_resources, collect, create_provider, tarball, upload

PLUGINS = f"{API}/provider-plugins"
NODE_PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "example" / "nodejs"
KEY = "example:nodejs"


def node_copy(
    root: Path, vendor: str = "acme", provider_type: str = "nodecopy", **manifest: Any
) -> Path:
    """The example plugin under another identity: its manifest and plugin.js both edited."""
    folder = Path(shutil.copytree(NODE_PLUGIN, root))
    data = yaml.safe_load((folder / "manifest.yml").read_text())
    data.update(namespace=vendor, name=provider_type, vendor=vendor, provider_type=provider_type)
    data.update(manifest)
    (folder / "manifest.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    source = (folder / "plugin.js").read_text()
    source = source.replace('const VENDOR = "example";', f'const VENDOR = "{vendor}";')
    source = source.replace(
        'const PROVIDER_TYPE = "nodejs";', f'const PROVIDER_TYPE = "{provider_type}";'
    )
    (folder / "plugin.js").write_text(source)
    return folder


def registry_state(client: TestClient, settings: Settings) -> tuple[Any, ...]:
    """What a refused upload must leave as it was: the API's list, the files, the rows."""
    listed = client.get(f"{PLUGINS}/").json()
    root = settings.plugins_dir
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p != root / ".incoming")
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalar(select(func.count()).select_from(PluginVersion))
    return [(p["key"], p["version"], p["sha256"]) for p in listed], files, rows


def guests(client: TestClient, host: dict[str, Any]) -> list[str]:
    edges = client.get(f"{API}/resources/{host['id']}/").json()["relationships"]
    return sorted(
        e["ems_ref"]
        for e in edges
        if e["relationship_type"] == "runs_on" and e["direction"] == "incoming"
    )


def test_the_managed_nodejs_plugin_is_listed(client: TestClient) -> None:
    listed = {p["key"]: p for p in client.get(f"{PLUGINS}/").json()}
    detail = client.get(f"{PLUGINS}/{KEY}/").json()

    assert listed[KEY]["source"] == "managed"
    assert listed[KEY]["state"] == "ready"
    assert listed[KEY]["supported_resource_types"] == ["virtual_machine", "hypervisor_host"]
    assert detail["class_path"] == "command"
    assert detail["manifest"]["runtime"] == {"command": ["node", "plugin.js"]}


def test_collect_from_the_nodejs_plugin(client: TestClient) -> None:
    provider = create_provider(
        client,
        name="Node",
        vendor="example",
        provider_type="nodejs",
        infrastructure="other",
        endpoint="node.local",
        connection_config={"hosts": 2, "vms_per_host": 3},
    )

    run = collect(client, provider["id"])
    again = collect(client, provider["id"])

    assert run["status"] == "completed", run
    assert (run["resources_found"], run["resources_created"], run["errors"]) == (8, 8, 0)
    assert (again["resources_found"], again["resources_unchanged"]) == (8, 8)
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert "collecting 8 resources" in log  # a log notification
    assert "plugin.js: collecting 2 host(s) x 3 VM(s) from node.local" in log  # stdout
    resources = all_resources(client, provider=provider["id"])
    by_ref = {r["ems_ref"]: r for r in resources}
    assert sorted(by_ref) == ["host-0", "host-1"] + [
        f"vm-{h}-{v}" for h in (0, 1) for v in range(3)
    ]
    assert by_ref["host-1"]["resource_type"] == "hypervisor_host"
    assert by_ref["vm-1-2"]["resource_type"] == "virtual_machine"
    assert guests(client, by_ref["host-0"]) == ["vm-0-0", "vm-0-1", "vm-0-2"]
    assert guests(client, by_ref["host-1"]) == ["vm-1-0", "vm-1-1", "vm-1-2"]


def test_upload_of_a_command_plugin_without_provider_py(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = node_copy(tmp_path / "plugin")
    assert not (folder / "provider.py").exists()

    response = upload(client, tarball(folder))

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["key"], body["class_path"]) == ("acme:nodecopy", "command")
    stored = settings.plugins_dir / "acme" / "nodecopy" / f"1.0.0-{body['sha256'][:12]}"
    assert sorted(p.name for p in (stored / "plugin").iterdir()) == ["manifest.yml", "plugin.js"]
    provider = create_provider(
        client,
        vendor="acme",
        provider_type="nodecopy",
        infrastructure="other",
        connection_config={"hosts": 3, "vms_per_host": 1},
    )
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["resources_created"] == 6
    assert run["plugin_sha256"] == body["sha256"]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["nodex", "plugin.js"], "runtime.command: 'nodex' not found on PATH"),
        (["bin/plugin"], "runtime.command: 'bin/plugin' not found in the plugin folder"),
    ],
)
def test_upload_naming_a_missing_executable_is_refused(
    client: TestClient, settings: Settings, tmp_path: Path, command: list[str], problem: str
) -> None:
    folder = node_copy(tmp_path / "plugin", runtime={"command": command})
    before = registry_state(client, settings)

    response = upload(client, tarball(folder))

    assert response.status_code == 400, response.text
    assert problem in response.json()["detail"]
    assert registry_state(client, settings) == before
    assert "acme:nodecopy" not in [key for key, _, _ in before[0]]


def test_upload_whose_program_describes_another_plugin_is_refused(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = node_copy(tmp_path / "plugin")
    source = (folder / "plugin.js").read_text()
    (folder / "plugin.js").write_text(source.replace('"acme"', '"other"'))
    before = registry_state(client, settings)

    response = upload(client, tarball(folder))

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "runtime.command ['node', 'plugin.js']: no provider with vendor='acme'" in detail
    assert "NodeProvider (other:nodecopy)" in detail
    assert registry_state(client, settings) == before


def test_connectivity_test_runs_the_program(client: TestClient) -> None:
    provider = create_provider(
        client, vendor="example", provider_type="nodejs", connection_config={"hosts": 4}
    )

    response = client.post(f"{PLUGINS}/{KEY}/test/")

    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["provider"] == provider["id"]
    assert (result["ok"], result["message"]) == (True, "4 host(s) with 3 VM(s) each")


def test_a_run_whose_program_went_missing_fails_naming_it(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = node_copy(tmp_path / "plugin", runtime={"command": ["bin/run", "plugin.js"]})
    (folder / "bin").mkdir()
    (folder / "bin" / "run").write_text('#!/bin/sh\nexec node "$@"\n')
    (folder / "bin" / "run").chmod(0o755)
    response = upload(client, tarball(folder))
    assert response.status_code == 201, response.text
    provider = create_provider(
        client, vendor="acme", provider_type="nodecopy", connection_config={"hosts": 1}
    )
    assert collect(client, provider["id"])["status"] == "completed"
    [program] = settings.plugins_dir.glob("acme/nodecopy/*/plugin/bin/run")
    program.unlink()

    run = collect(client, provider["id"])

    assert run["status"] == "failed"
    # The file list of the version (checked before every start) names it first.
    assert "plugin file bin/run was removed" in run["error_message"]
