"""The vmware:vcenter plugin's actions through the service, against vcsim: every declared
action started over the REST API, run by the plugin's long-lived (confined) process,
and the refreshed inventory showing what it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyVmomi import vim

from emulators.vcsim import Size, Vcsim, by_name, vcsim, wait
from factories import API, all_resources, collect, create_provider, wait_for_action

pytestmark = pytest.mark.timeout(240)
# The service's action machinery runs on both backends in tests/api/test_actions.py; here
# the platform is under test, and some twenty action runs with their refreshes take ~20 s.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def simulator() -> Iterator[Vcsim]:
    """A cluster of 3 hosts and a standalone host, 4 VMs; one template among them."""
    try:
        with vcsim(Size()) as started:
            with started.session() as instance:
                golden = by_name(instance, vim.VirtualMachine)["DC0_C0_RP0_VM1"]
                wait(golden.PowerOffVM_Task())
                golden.MarkAsTemplate()
            yield started
    except RuntimeError as exc:  # never a skip: CI must have vcsim (make platforms)
        pytest.fail(f"vcsim cannot start: {exc}")


def run(client: TestClient, path: str, name: str, /, **params: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/{path}/actions/{name}/", json={"params": params})
    assert answer.status_code == 202, answer.text
    done = wait_for_action(client, answer.json()["id"], timeout=60)
    assert done["status"] == "completed", (name, done["error"], done["log"])
    return done


def seen(client: TestClient, provider: dict[str, Any], name: str) -> dict[str, Any]:
    """The provider's resource ``name`` (deleted or not), as the API shows it now."""
    listed = all_resources(client, provider=provider["id"], include_deleted="true")
    (found,) = [r for r in listed if r["name"] == name]
    detail: dict[str, Any] = client.get(f"{API}/resources/{found['id']}/").json()
    return detail


@SQLITE_ONLY
def test_every_action_runs_through_the_api_and_the_inventory_shows_it(
    client: TestClient, simulator: Vcsim
) -> None:
    provider = create_provider(
        client,
        vendor="vmware",
        provider_type="vcenter",
        endpoint="127.0.0.1",
        connection_config=simulator.connection_config(),
    )
    assert collect(client, provider["id"], timeout=120)["status"] == "completed"
    vm = seen(client, provider, "DC0_H0_VM0")
    at = f"resources/{vm['id']}"
    listing = client.get(f"{API}/{at}/actions/").json()
    assert listing["profiles"] == ["core", "snapshot", "clone"]
    offered = {a["name"]: a for a in listing["actions"]}
    assert (offered["rollback"]["available"], offered["rollback"]["reason"]) == (
        False, "the virtual machine has no snapshots"
    )  # fmt: skip

    # core: the next listing shows the power state
    off = run(client, at, "power_off")
    assert off["result"]["changed"] is True and off["refresh_run"] is not None
    assert seen(client, provider, "DC0_H0_VM0")["state"] == "stopped"
    run(client, at, "power_on")
    booted = seen(client, provider, "DC0_H0_VM0")
    assert booted["state"] == "running"
    assert run(client, at, "reboot")["result"]["method"] == "reset"  # vcsim has no RebootGuest
    assert seen(client, provider, "DC0_H0_VM0")["boot_time"] != booted["boot_time"]
    assert run(client, at, "describe")["result"]["power_state"] == "poweredOn"

    # snapshot: names and the current one in the VM's properties
    run(client, at, "snapshot_create", name="clean", description="before the change")
    run(client, at, "shutdown", timeout=30)
    run(client, at, "snapshot_create", name="after")
    taken = seen(client, provider, "DC0_H0_VM0")
    assert taken["state"] == "stopped"
    assert taken["properties"]["snapshots"] == ["clean", "after"]
    assert run(client, at, "snapshot_revert", snapshot="clean")["result"]["reverted_to"] == "clean"
    reverted = seen(client, provider, "DC0_H0_VM0")
    assert (reverted["state"], reverted["properties"]["current_snapshot"]) == ("running", "clean")
    assert run(client, at, "rollback")["result"]["reverted_to"] == "after"
    assert seen(client, provider, "DC0_H0_VM0")["state"] == "stopped"
    listed = run(client, at, "snapshot_list")["result"]
    assert [(s["name"], s["current"]) for s in listed] == [("clean", False), ("after", True)]
    run(client, at, "snapshot_delete", snapshot="clean")
    assert seen(client, provider, "DC0_H0_VM0")["properties"]["snapshot_count"] == 1

    # clone: new resources with their relationships; an instance with its labels
    clone = run(client, at, "clone", name="web-copy")["result"]
    templates = run(client, f"providers/{provider['id']}", "template_list")["result"]
    assert [t["name"] for t in templates] == ["DC0_C0_RP0_VM1"]
    labels = {"team": "qa"}
    made = run(client, f"providers/{provider['id']}", "instance_create",
               template="DC0_C0_RP0_VM1", name="ci-7", realm="ci", labels=labels)  # fmt: skip
    now = {name: seen(client, provider, name) for name in ("web-copy", "ci-7")}
    assert now["web-copy"]["ems_ref"] == clone["ems_ref"]
    assert now["ci-7"]["ems_ref"] == made["result"]["ems_ref"]
    assert now["ci-7"]["provider_tags"] == labels | {"realm": "ci", "template": "DC0_C0_RP0_VM1"}
    for name in ("web-copy", "ci-7"):
        edges = {e["relationship_type"]: e for e in now[name]["relationships"]}
        assert {"runs_on", "member_of", "attached_to", "connected_to"} <= set(edges)
        assert all(e["resource_id"] is not None for e in edges.values())

    # delete: the copy (powered off, as a clone is made) is gone from the inventory
    run(client, f"resources/{now['web-copy']['id']}", "delete")
    assert seen(client, provider, "web-copy")["is_deleted"] is True
