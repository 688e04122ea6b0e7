"""The built-in vmware:vcenter plugin through the service, against vcsim: seed 000's
payload as its curl line writes it, collections, history, the connection test, a
partial run. The plugin runs as the service runs it: a confined child process in the
environment built from its requirements.txt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyVmomi import vim

from emulators.vcsim import Size, Vcsim, by_name, vcsim, wait
from factories import API, all_resources, collect, create_provider, patch_config

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def two_datacenters() -> Iterator[Vcsim]:
    """Two datacenters of a cluster of 2 hosts and a standalone host, 4 VMs each."""
    try:
        with vcsim(Size(datacenters=2, hosts_per_cluster=2)) as simulator:
            yield simulator
    except RuntimeError as exc:  # never a skip: CI must have vcsim (make platforms)
        pytest.fail(f"vcsim cannot start: {exc}")


def seed_provider(client: TestClient, simulator: Vcsim, **config: Any) -> dict[str, Any]:
    """Seed 000's ``Production vCenter`` curl payload, pointed at the simulator."""
    return create_provider(
        client,
        name="Production vCenter",
        infrastructure="private_cloud",
        vendor="vmware",
        provider_type="vcenter",
        endpoint="127.0.0.1",
        organization=1,
        connection_config={
            "username": "administrator@vsphere.local",
            "password": simulator.password or "secret",
            "port": simulator.port,
            "verify_ssl": False,
            **config,
        },
    )


def by_ems_ref(client: TestClient, provider: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources = all_resources(client, provider=provider["id"], include_deleted="true")
    return {r["ems_ref"]: r for r in resources}


def history(client: TestClient, resource: dict[str, Any]) -> list[dict[str, Any]]:
    page = client.get(f"{API}/resources/{resource['id']}/history/").json()
    return list(page["results"])


def change_the_simulated_vcenter(simulator: Vcsim) -> None:
    """One VM created, one given 4 CPUs and 2 GB and powered off, one destroyed."""
    with simulator.session() as instance:
        vms = by_name(instance, vim.VirtualMachine)
        dc0 = by_name(instance, vim.Datacenter)["DC0"]
        pool = by_name(instance, vim.ClusterComputeResource)["DC0_C0"].resourcePool
        spec = vim.vm.ConfigSpec(
            name="estate-new",
            guestId="rhel9_64Guest",
            numCPUs=2,
            memoryMB=4096,
            files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"),
        )
        wait(dc0.vmFolder.CreateVM_Task(config=spec, pool=pool))
        changed = vms["DC0_C0_RP0_VM0"]
        wait(changed.ReconfigVM_Task(spec=vim.vm.ConfigSpec(numCPUs=4, memoryMB=2048)))
        wait(changed.PowerOffVM_Task())
        gone = vms["DC0_H0_VM1"]
        wait(gone.PowerOffVM_Task())
        wait(gone.Destroy_Task())


def test_seed_payload_collects_and_history_tracks_created_modified_deleted(
    client: TestClient, two_datacenters: Vcsim
) -> None:
    provider = seed_provider(client, two_datacenters)
    assert provider["connection_config"]["password"] == "$encrypted$"

    first = collect(client, provider["id"], timeout=120)

    assert first["status"] == "completed", first["error_message"]
    before = by_ems_ref(client, provider)
    assert first["resources_created"] == len(before) > 2 * (1 + 3 + 4)
    vms = {r["name"]: r for r in before.values() if r["resource_type"] == "virtual_machine"}
    assert len(vms) == two_datacenters.size.total_vms == 8
    vm = client.get(f"{API}/resources/{vms['DC0_C0_RP0_VM0']['id']}/").json()
    edges = {(e["relationship_type"], e["direction"]) for e in vm["relationships"]}
    assert {("runs_on", "outgoing"), ("member_of", "outgoing")} <= edges
    assert {("attached_to", "outgoing"), ("connected_to", "outgoing")} <= edges
    assert all(e["resource_id"] is not None for e in vm["relationships"])

    change_the_simulated_vcenter(two_datacenters)
    second = collect(client, provider["id"], timeout=120)

    assert second["status"] == "completed", second["error_message"]
    assert (second["resources_created"], second["resources_deleted"]) == (1, 1)
    after = {r["name"]: r for r in by_ems_ref(client, provider).values()}
    (created,) = history(client, after["estate-new"])
    assert created["kind"] == "created"
    assert after["estate-new"]["os_type"] == "linux"
    modified, _ = history(client, after["DC0_C0_RP0_VM0"])
    assert modified["kind"] == "modified"
    assert modified["run"] == second["id"]
    assert modified["changes"]["cpu_count"] == {"from": 1, "to": 4}
    assert modified["changes"]["memory_mb"] == {"from": 32, "to": 2048}
    assert modified["changes"]["state"] == {"from": "running", "to": "stopped"}
    assert modified["changes"]["power_state"] == {"from": "poweredOn", "to": "poweredOff"}
    deleted, _ = history(client, after["DC0_H0_VM1"])
    assert (deleted["kind"], after["DC0_H0_VM1"]["is_deleted"]) == ("deleted", True)
    untouched = history(client, after["DC1_H0_VM1"])
    assert [entry["kind"] for entry in untouched] == ["created"]


def test_a_missing_datacenter_makes_the_run_partial_and_deletes_nothing(
    client: TestClient, two_datacenters: Vcsim
) -> None:
    provider = seed_provider(client, two_datacenters)
    first = collect(client, provider["id"], timeout=120)
    assert first["status"] == "completed", first["error_message"]
    seen = by_ems_ref(client, provider)
    config = {"password": "secret", "port": two_datacenters.port, "verify_ssl": False}
    patch_config(
        client,
        provider["id"],
        username="administrator@vsphere.local",
        datacenters=["DC0", "DC9"],
        **config,
    )

    run = collect(client, provider["id"], timeout=120)

    assert run["status"] == "partial", run["error_message"]
    assert "could not read datacenter DC9: not found on the vCenter" in run["error_message"]
    assert run["resources_deleted"] == 0
    assert 0 < run["resources_unchanged"] < len(seen)
    now = by_ems_ref(client, provider)
    assert now.keys() == seen.keys()
    assert not any(r["is_deleted"] for r in now.values())  # DC1 unseen, not gone


def test_the_connection_test_says_who_answered_or_what_was_refused(
    client: TestClient, locked_vcsim: Vcsim
) -> None:
    provider = seed_provider(client, locked_vcsim)

    answer = client.post(f"{API}/providers/{provider['id']}/test/").json()

    assert answer["ok"] is True, answer
    assert "logged in to VMware vCenter Server" in answer["message"]
    assert f"at 127.0.0.1:{locked_vcsim.port}" in answer["message"]

    config = {"port": locked_vcsim.port, "verify_ssl": False}
    patch_config(client, provider["id"], username=locked_vcsim.username, password="nope", **config)
    refused = client.post(f"{API}/providers/{provider['id']}/test/").json()

    assert refused["ok"] is False
    assert refused["message"].startswith("unauthenticated: vCenter at 127.0.0.1:")
    assert "refused the login of 'administrator@vsphere.local'" in refused["message"]


def test_an_unreachable_vcenter_fails_the_run_fast_and_says_so(
    client: TestClient, silent_port: int
) -> None:
    provider = create_provider(
        client,
        vendor="vmware",
        provider_type="vcenter",
        endpoint="127.0.0.1",
        connection_config={"username": "u", "password": "p", "port": silent_port, "timeout": 2},
    )
    started = time.monotonic()

    run = collect(client, provider["id"], timeout=60)

    assert run["status"] == "failed", run["error_message"]
    assert "did not answer within 2 s" in run["error_message"]
    assert time.monotonic() - started < 20
