"""proxmox:pve through the service, as seed 000's payload sets it up: collections that
track what changed in fakepve, a partial run that deletes nothing, connection tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulators.fakepve import FakePve, guests, running_fakepve
from factories import API, all_resources, collect, create_provider, patch_config

SeedConfig = Callable[..., dict[str, Any]]
# The database is not what these tests are about (partial runs and connection tests are
# tested on both backends elsewhere): one backend keeps the emulator work to once.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def pve_provider(client: TestClient, pve: FakePve, config: dict[str, Any]) -> dict[str, Any]:
    """A provider created with seed 000's payload shape, pointed at ``pve``."""
    return create_provider(
        client, name="Lab PVE", vendor="proxmox", provider_type="pve",
        endpoint=pve.host, connection_config=config,
    )  # fmt: skip


def explain(client: TestClient, run: dict[str, Any]) -> dict[str, Any]:
    """The run with its log, for the message of a failed assertion."""
    detail: dict[str, Any] = client.get(f"{API}/collection-runs/{run['id']}/").json()
    return detail


def history(client: TestClient, resource: dict[str, Any]) -> list[dict[str, Any]]:
    page = client.get(f"{API}/resources/{resource['id']}/history/").json()
    return list(page["results"])


def test_collections_track_a_clone_a_stop_and_a_delete(
    client: TestClient, tmp_path: Path, seed_config: SeedConfig
) -> None:
    with running_fakepve(tmp_path, guests(10)) as pve:
        provider = pve_provider(client, pve, seed_config(pve))
        first = collect(client, provider["id"])
        assert first["status"] == "completed", explain(client, first)
        before = {r["ems_ref"]: r for r in all_resources(client, provider=provider["id"])}
        assert len([ref for ref in before if ref.startswith(("qemu/", "lxc/"))]) == 10
        assert before["qemu/101"]["state"] == "running"

        api = pve.client()
        api.nodes("pve1").qemu(100).clone.post(newid=900, name="vm-900-clone")
        api.nodes("pve2").qemu(101).status.stop.post()
        api.nodes("pve1").qemu(108).delete()
        second = collect(client, provider["id"])

    assert second["status"] == "completed", explain(client, second)
    assert (second["resources_created"], second["resources_deleted"]) == (1, 1)
    assert second["resources_updated"] == 1
    after = {
        r["ems_ref"]: r
        for r in all_resources(client, provider=provider["id"], include_deleted=True)
    }
    clone = after["qemu/900"]
    assert (clone["name"], clone["is_deleted"], history(client, clone)[0]["kind"]) == (
        "vm-900-clone", False, "created",
    )  # fmt: skip
    stopped = history(client, after["qemu/101"])[0]
    assert stopped["kind"] == "modified"
    assert stopped["changes"]["state"] == {"from": "running", "to": "stopped"}
    assert stopped["changes"]["power_state"] == {"from": "running", "to": "stopped"}
    deleted = after["qemu/108"]
    assert deleted["is_deleted"] and history(client, deleted)[0]["kind"] == "deleted"
    detail = client.get(f"{API}/resources/{clone['id']}/").json()
    outgoing = {(e["ems_ref"], e["relationship_type"]) for e in detail["relationships"]
                if e["direction"] == "outgoing"}  # fmt: skip
    assert outgoing == {("node/pve1", "runs_on"), ("storage/pve1/local-lvm", "attached_to")}


@SQLITE_ONLY
def test_an_offline_node_makes_the_run_partial_and_deletes_nothing(
    client: TestClient, tmp_path: Path, seed_config: SeedConfig
) -> None:
    estate = guests(8, ("pve1", "pve2"))
    with running_fakepve(tmp_path / "healthy", estate) as pve:
        provider = pve_provider(client, pve, seed_config(pve))
        first = collect(client, provider["id"])
    assert first["status"] == "completed", explain(client, first)
    # The same cluster, pve2 now cut off: its guests' reads answer 595 "No route to host".
    with running_fakepve(tmp_path / "split", estate, offline_nodes=["pve2"]) as pve:
        patch_config(client, provider["id"], **seed_config(pve, password="$encrypted$"))
        run = collect(client, provider["id"])

    assert run["status"] == "partial", explain(client, run)
    assert "node pve2" in run["error_message"]
    assert run["resources_deleted"] == 0
    kept = all_resources(client, provider=provider["id"])
    on_pve2 = [
        r
        for r in kept
        if r["properties"].get("node") == "pve2" and r["vendor_type"] != "Proxmox VE node"
    ]
    assert len(on_pve2) == 6  # 4 guests, 2 storages: none deleted
    node = next(r for r in kept if r["ems_ref"] == "node/pve2")
    assert (node["state"], node["power_state"]) == ("unknown", "offline")


@SQLITE_ONLY
def test_the_connection_test_reports_success_and_the_precise_failure(
    client: TestClient, fakepve: FakePve, seed_config: SeedConfig
) -> None:
    provider = pve_provider(client, fakepve, seed_config(fakepve))

    ok = client.post(f"{API}/providers/{provider['id']}/test/").json()
    patch_config(client, provider["id"], **seed_config(fakepve, password="wrong-password"))
    refused = client.post(f"{API}/providers/{provider['id']}/test/").json()
    patch_config(client, provider["id"], **seed_config(fakepve, password="$encrypted$", port=1))
    closed = client.post(f"{API}/providers/{provider['id']}/test/").json()

    assert ok["ok"] is True
    assert ok["message"] == (
        f"logged in to Proxmox VE 9.0.10 at https://{fakepve.host}:{fakepve.port} as root@pam"
    )
    assert refused["ok"] is False
    assert refused["message"].startswith("unauthenticated: ")
    assert "refused the login of root@pam" in refused["message"]
    assert "wrong-password" not in refused["message"]
    assert closed["ok"] is False
    assert closed["message"].startswith("unreachable: cannot connect to https://127.0.0.1:1")
