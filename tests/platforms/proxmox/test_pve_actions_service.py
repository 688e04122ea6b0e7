"""proxmox:pve's actions through the service: every declared action started over the
REST API, run by the plugin's long-lived process against fakepve, and the inventory
refreshed to show what it did."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulators.fakepve import FakePve, guests, running_fakepve
from factories import API, all_resources, collect, create_provider, wait_for_action

SeedConfig = Callable[..., dict[str, Any]]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TEMPLATE = {
    "vmid": 9000, "node": "pve1", "name": "tpl-web", "status": "stopped", "template": True,
    "config": {"description": "chatsubo.template=web-easy", "memory": 1024, "cores": 1,
               "scsi0": "local-lvm:base-9000-disk-0,size=8G"},
}  # fmt: skip


class Lab:
    """A provider for one fakepve, collected once, and the calls the tests make."""

    def __init__(self, client: TestClient, pve: FakePve, config: dict[str, Any]) -> None:
        self.client, self.pve = client, pve
        self.provider = create_provider(
            client, name="Lab PVE", vendor="proxmox", provider_type="pve",
            endpoint=pve.host, connection_config=config,
        )  # fmt: skip
        assert collect(client, self.provider["id"])["status"] == "completed"

    def resources(self) -> dict[str, dict[str, Any]]:
        listed = all_resources(self.client, provider=self.provider["id"])
        return {r["ems_ref"]: r for r in listed}

    def resource(self, ems_ref: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(
            f"{API}/resources/{self.resources()[ems_ref]['id']}/"
        ).json()
        return found

    def act(self, ems_ref: str | None, name: str, /, **params: Any) -> dict[str, Any]:
        """Run the action to its end; the run (completed, or the test fails saying why)."""
        where = (
            f"providers/{self.provider['id']}"
            if ems_ref is None
            else f"resources/{self.resources()[ems_ref]['id']}"
        )
        answer = self.client.post(f"{API}/{where}/actions/{name}/", json={"params": params})
        assert answer.status_code == 202, answer.text
        run = wait_for_action(self.client, answer.json()["id"])
        assert run["status"] == "completed", run
        return run


def test_power_snapshots_and_a_clone_through_the_api_show_in_the_inventory(
    client: TestClient, tmp_path: Path, seed_config: SeedConfig
) -> None:
    with running_fakepve(tmp_path, guests(6)) as pve:
        lab = Lab(client, pve, seed_config(pve))
        vm = lab.resources()["qemu/101"]
        offered = client.get(f"{API}/resources/{vm['id']}/actions/").json()

        off = lab.act("qemu/101", "power_off")
        unchanged = lab.act("qemu/103", "power_on")
        lab.act("qemu/101", "snapshot_create", name="clean", description="as deployed")
        pve.client().nodes("pve2").qemu(101).config.put(memory=4096)
        lab.act("qemu/101", "power_on")
        grown = lab.resource("qemu/101")
        lab.act("qemu/101", "snapshot_revert", snapshot="clean")
        reverted = lab.resource("qemu/101")
        clone = lab.act("qemu/101", "clone", name="copy-of-101")["result"]

        after = lab.resources()

    actions = {a["name"]: a for a in offered["actions"]}
    assert offered["profiles"] == ["core", "snapshot", "clone"]
    assert (actions["rollback"]["available"], actions["rollback"]["reason"]) == (
        False, "the guest has no snapshots (as of the last collection)",
    )  # fmt: skip
    assert actions["power_on"]["idempotent"] and "template_list" not in actions
    assert off["result"]["changed"] is True
    assert unchanged["result"] == {"changed": False, "ems_ref": "qemu/103", "status": "running"}
    history = client.get(f"{API}/resources/{after['qemu/103']['id']}/history/").json()
    assert history["count"] == 1  # its creation only
    assert (grown["memory_mb"], grown["state"]) == (4096, "running")
    assert grown["properties"]["snapshots"] == ["clean"]
    assert (reverted["memory_mb"], reverted["state"]) == (2048, "stopped")
    new = after[clone["ems_ref"]]
    assert (new["name"], new["state"]) == ("copy-of-101", "stopped")
    detail = client.get(f"{API}/resources/{new['id']}/").json()
    assert {(e["ems_ref"], e["relationship_type"]) for e in detail["relationships"]} >= {
        ("node/pve2", "runs_on"), ("storage/pve2/local-lvm", "attached_to"),
    }  # fmt: skip


@SQLITE_ONLY
def test_the_other_actions_through_the_api_and_an_instance_with_its_realm(
    client: TestClient, tmp_path: Path, seed_config: SeedConfig
) -> None:
    with running_fakepve(tmp_path, [*guests(6), TEMPLATE]) as pve:
        lab = Lab(client, pve, seed_config(pve))
        refused = client.post(
            f"{API}/resources/{lab.resources()['qemu/102']['id']}/actions/rollback/"
        )
        shut = lab.act("qemu/102", "shutdown", timeout=30)
        lab.act("qemu/103", "reboot")
        described = lab.act("qemu/103", "describe")["result"]
        lab.act("qemu/103", "snapshot_create", name="one")
        lab.act("qemu/103", "snapshot_create", name="two")
        listed = lab.act("qemu/103", "snapshot_list")["result"]
        lab.act("qemu/103", "snapshot_delete", snapshot="one")
        pve.client().nodes("pve2").qemu(103).config.put(memory=512)
        lab.act("qemu/103", "rollback", start=True)
        reset = lab.resource("qemu/103")
        deleted = lab.act("qemu/105", "delete")
        gone = "qemu/105" not in lab.resources()
        templates = lab.act(None, "template_list")["result"]
        made = lab.act(None, "instance_create", template="web-easy", name="ctf-1", realm="blue")
        after = {r["ems_ref"]: r for r in all_resources(client, include_deleted=True)}

    assert refused.status_code == 409
    assert "no snapshots" in refused.text
    assert shut["result"]["changed"] is True and after["qemu/102"]["state"] == "stopped"
    assert (described["ems_ref"], described["state"]) == ("qemu/103", "running")
    assert [s["name"] for s in listed] == ["one", "two"]
    assert (reset["properties"]["snapshots"], reset["properties"]["snapshot_parent"]) == (
        ["two"], "two",
    )  # fmt: skip
    assert (reset["memory_mb"], reset["state"]) == (2048, "running")
    assert deleted["result"]["stopped_first"] is True and gone
    assert [t["template"] for t in templates] == ["web-easy"]
    assert made["resource"] is None
    instance = after[made["result"]["ems_ref"]]  # PVE gives it the lowest free VMID: 105's
    assert (instance["name"], instance["is_deleted"]) == ("ctf-1", False)
    assert instance["properties"]["chatsubo"] == {"template": "web-easy", "realm": "blue"}
    assert instance["provider_tags"]["chatsubo.realm"] == "blue"
