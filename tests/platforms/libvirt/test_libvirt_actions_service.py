"""libvirt:kvm's actions through the service: each action runs in the provider's
long-lived plugin process, its refresh in a collection process of its own; both reach
one libvirt host (the test driver behind a private libvirtd), so what an action did is
what the next listing shows."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from emulators.libvirt_daemon import Daemon, running_daemon
from emulators.libvirt_host import domain_uuid
from estate.api.app import create_app
from estate.config import Settings
from factories import API, all_resources, collect, wait_for_action

NOBODY = 65534  # nobody:nogroup on Debian


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    with running_daemon() as started:
        started.add_domain(1, "web")
        started.add_domain(2, "db", running=False)
        yield started


@pytest.fixture
def kvm_service(settings: Settings, daemon: Daemon) -> Iterator[TestClient]:
    """The app whose confined plugins may reach the daemon's socket folder, running as
    a user with a passwd entry (``nobody``): libvirtd names every client by its user and
    group and refuses one it cannot name, as a KVM host's own libvirtd does; the
    service's default plugin users have no entry (ESTATE_PLUGIN_UID, docs/actions.md)."""
    settings.plugin_readable = [daemon.folder]
    settings.plugin_uid = settings.plugin_gid = NOBODY
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client


def run(client: TestClient, resource: dict[str, Any], name: str, /, **params: Any) -> Any:
    answer = client.post(
        f"{API}/resources/{resource['id']}/actions/{name}/", json={"params": params}
    )
    assert answer.status_code == 202, answer.text
    done = wait_for_action(client, answer.json()["id"])
    assert done["status"] == "completed", done
    return done["result"]


def vms(client: TestClient, provider: int) -> dict[str, dict[str, Any]]:
    found = all_resources(
        client, provider=provider, resource_type="virtual_machine", include_deleted="true"
    )
    return {r["name"]: r for r in found}


def test_every_action_through_the_api_shows_in_the_next_listing(
    kvm_service: TestClient, daemon: Daemon
) -> None:
    client = kvm_service
    answer = client.post(
        f"{API}/providers/",
        json={
            "name": "kvm1",
            "infrastructure": "private_cloud",
            "vendor": "libvirt",
            "provider_type": "kvm",
            "endpoint": daemon.uri,
            "organization": 1,
            "connection_config": {"timeout": 10},
        },
    )
    assert answer.status_code == 201, answer.text
    provider = answer.json()["id"]
    first = collect(client, provider)
    assert first["status"] == "completed", (first["error_message"], first.get("log"))
    web, db = vms(client, provider)["web"], vms(client, provider)["db"]
    assert (web["ems_ref"], web["state"], db["state"]) == (domain_uuid(1), "running", "stopped")

    offered = client.get(f"{API}/resources/{web['id']}/actions/").json()
    by_name = {a["name"]: a for a in offered["actions"]}
    assert set(offered["profiles"]) == {"core", "snapshot", "clone"}
    assert (by_name["rollback"]["available"], by_name["rollback"]["reason"]) == (
        False,
        "the domain has no snapshots",
    )
    assert not by_name["clone"]["available"]  # web runs

    run(client, web, "snapshot_create", name="clean", description="before the change")
    assert run(client, web, "shutdown", timeout=10)["state"] == "shutoff"
    stopped = vms(client, provider)["web"]
    assert (stopped["state"], stopped["properties"]["snapshots"]) == ("stopped", ["clean"])
    assert run(client, web, "rollback")["reverted_to"] == "clean"
    assert vms(client, provider)["web"]["state"] == "running"  # the state it was taken in
    run(client, web, "reboot")
    assert run(client, web, "power_off")["changed"] is True
    assert vms(client, provider)["web"]["state"] == "stopped"
    assert run(client, web, "snapshot_revert", snapshot="clean")["state"] == "running"
    assert vms(client, provider)["web"]["state"] == "running"
    assert [s["name"] for s in run(client, web, "snapshot_list")] == ["clean"]
    run(client, web, "snapshot_delete", snapshot="clean")
    assert "snapshots" not in vms(client, provider)["web"]["properties"]
    assert run(client, web, "describe")["power_state"] == "running"
    refused = client.post(f"{API}/resources/{web['id']}/actions/delete/", json={"params": {}})
    assert refused.status_code == 409, refused.text  # web runs: not available now

    clone = run(client, db, "clone", name="db-copy")
    copy = client.get(f"{API}/resources/{vms(client, provider)['db-copy']['id']}/").json()
    assert (copy["ems_ref"], copy["state"]) == (clone["ems_ref"], "stopped")
    edges = {e["relationship_type"]: e for e in copy["relationships"]}
    assert (edges["attached_to"]["ems_ref"], edges["attached_to"]["resource_id"]) == (
        clone["volumes"][0],
        None,
    )
    # The action's refresh collects virtual machines; the new volume comes with the next
    # full collection, and the clone's edge then finds it.
    assert collect(client, provider)["status"] == "completed"
    copy = client.get(f"{API}/resources/{copy['id']}/").json()
    assert {(e["relationship_type"], e["resource_type"]) for e in copy["relationships"]} == {
        ("runs_on", "hypervisor_host"),
        ("attached_to", "block_storage"),
        ("connected_to", "network"),
    }
    assert all(e["resource_id"] for e in copy["relationships"])

    assert run(client, copy, "power_on")["changed"] is True
    assert run(client, copy, "power_on") == {"changed": False, "state": "running"}
    assert vms(client, provider)["db-copy"]["state"] == "running"

    created = client.post(
        f"{API}/providers/{provider}/actions/create/", json={"params": {"name": "blank"}}
    )
    assert created.status_code == 202, created.text
    assert wait_for_action(client, created.json()["id"])["status"] == "completed"
    blank = vms(client, provider)["blank"]
    assert blank["state"] == "stopped"
    run(client, blank, "delete")
    assert vms(client, provider)["blank"]["is_deleted"]
