"""The vmware:vcenter plugin against vcsim, driven in-process as the SDK's testing helpers do.

vcsim is govmomi's vCenter simulator (tests/emulators/vcsim/main.go); pyVmomi is the
real client library. Round trips are counted by vcsim itself, on the server side.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from emulators.vcsim import Vcsim, by_name, delta, wait
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidConfig, NotFound, Unauthenticated, Unreachable
from inventory_providers.testing import make_provider, run_provider

ENDPOINT = "127.0.0.1"
PER_OBJECT = {"Fetch", "RetrieveProperties"}  # what lazy pyVmomi attribute reads send


def collect(cls: type[BaseProvider], simulator: Vcsim, **config: Any) -> list[ResourceData]:
    return run_provider(
        cls, endpoint=ENDPOINT, connection_config=simulator.connection_config(**config)
    )


def wire(resource: ResourceData) -> str:
    return json.dumps(resource.to_dict(), sort_keys=True, default=str)


def of_type(resources: list[ResourceData], slug: str) -> list[ResourceData]:
    return [r for r in resources if r.resource_type_slug == slug]


def targets(resource: ResourceData, kind: str) -> list[str]:
    edges = resource.to_dict().get("relationships", [])
    return [edge["target_ems_ref"] for edge in edges if edge["relationship_type"] == kind]


@dataclass(frozen=True)
class Collected:
    """One collection: the resources, the requests vcsim served, the plugin's log."""

    resources: list[ResourceData]
    served: dict[str, int]
    log: list[str]


def collected(cls: type[BaseProvider], simulator: Vcsim, **config: Any) -> Collected:
    log: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: log.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(f"inventory_providers.plugin.{cls.provider_key()}")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    before = simulator.requests()
    try:
        resources = collect(cls, simulator, **config)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return Collected(resources, delta(before, simulator.requests()), log)


@pytest.fixture(scope="module")
def large_collection(vcenter_class: type[BaseProvider], large_vcsim: Vcsim) -> Collected:
    """The 1,500 VMs on 105 hosts, collected once for the tests that read the result."""
    return collected(vcenter_class, large_vcsim)


def test_1500_vms_on_105_hosts_each_arrive_exactly_once(
    large_collection: Collected, large_vcsim: Vcsim
) -> None:
    resources = large_collection.resources

    refs = Counter(r.ems_ref for r in resources)
    vms, hosts = of_type(resources, "virtual_machine"), of_type(resources, "hypervisor_host")
    assert len(vms) == large_vcsim.size.total_vms == 1500
    assert len(hosts) == large_vcsim.size.hosts == 105
    assert [ref for ref, n in refs.items() if n > 1] == []
    assert len({vm.name for vm in vms}) == 1500
    known = set(refs)
    for vm in vms:
        assert len(targets(vm, "runs_on")) == 1
        assert set(targets(vm, "runs_on") + targets(vm, "member_of")) <= known
        assert targets(vm, "attached_to") and set(targets(vm, "attached_to")) <= known
        assert targets(vm, "connected_to") and set(targets(vm, "connected_to")) <= known
    assert {host.ems_ref for host in hosts} == {t for vm in vms for t in targets(vm, "runs_on")}


def test_round_trips_stay_flat_from_150_to_1500_vms(
    vcenter_class: type[BaseProvider],
    tenth_vcsim: Vcsim,
    large_vcsim: Vcsim,
    large_collection: Collected,
) -> None:
    tenth = collected(vcenter_class, tenth_vcsim)

    small, large = tenth.served, large_collection.served
    assert len(of_type(tenth.resources, "virtual_machine")) == 150
    assert sum(large.values()) <= sum(small.values()) + 1  # at most one more page of 1,000
    assert {k: v for k, v in large.items() if k != "ContinueRetrievePropertiesEx"} == {
        k: v for k, v in small.items() if k != "ContinueRetrievePropertiesEx"
    }
    assert large["RetrievePropertiesEx"] == 3  # datacenters, infrastructure, VMs
    assert not PER_OBJECT & set(large)
    # The plugin's own count, in its log, agrees with the server's.
    closed = f"closed the session to {ENDPOINT}:{large_vcsim.port} after"
    assert f"{closed} {sum(large.values())} round trips" in large_collection.log


def test_pages_follow_each_other_to_the_last_one(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    whole = collected(vcenter_class, small_vcsim)
    paged = collected(vcenter_class, small_vcsim, page_size=5)

    assert sorted(map(wire, paged.resources)) == sorted(map(wire, whole.resources))
    assert "ContinueRetrievePropertiesEx" not in whole.served
    # Per datacenter: 18 infrastructure objects (3 compute resources, 5 hosts, 5 pools,
    # a datastore, 3 networks, a switch) in 4 pages, 6 VMs in 2: 2 x (3 + 1) continuations.
    assert paged.served["ContinueRetrievePropertiesEx"] == 8
    assert "CancelRetrievePropertiesEx" not in paged.served


def test_a_targeted_collection_reads_only_what_its_vms_need(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    with small_vcsim.session() as instance:
        vms = by_name(instance, vim.VirtualMachine)
        wait(vms["DC1_H0_VM0"].PowerOffVM_Task())
        vms["DC1_H0_VM0"].MarkAsTemplate()
    config = small_vcsim.connection_config(page_size=1)  # one object per round trip

    def run(targets: set[str] | None) -> tuple[list[ResourceData], int]:
        before = small_vcsim.requests()
        resources = run_provider(
            vcenter_class, endpoint=ENDPOINT, connection_config=config,
            target_resource_types=targets,
        )  # fmt: skip
        served = delta(before, small_vcsim.requests())
        return resources, served["RetrievePropertiesEx"] + served["ContinueRetrievePropertiesEx"]

    full, full_objects = run(None)
    vms, vm_objects = run({"virtual_machine"})
    hosts, _ = run({"hypervisor_host", "template"})

    assert {r.resource_type_slug for r in vms} == {"virtual_machine"}
    assert sorted(map(wire, vms)) == sorted(map(wire, of_type(full, "virtual_machine")))
    assert all(vm.properties["host"] and vm.properties["resource_pool"] for vm in vms)
    assert {vm.availability_zone for vm in vms} == {"DC0_C0", "DC0_C1", "DC1_C0", "DC1_C1", None}
    # Objects read: 2 datacenters and the custom fields, then per datacenter 18
    # infrastructure objects and 6 VMs; VMs alone need 13 of the 18 (compute resources,
    # hosts, pools: their names), with a fraction of their properties.
    assert (full_objects, vm_objects) == (3 + 2 * (18 + 6), 3 + 2 * (13 + 6))
    assert sorted(map(wire, hosts)) == sorted(
        map(wire, of_type(full, "hypervisor_host") + of_type(full, "template"))
    )
    assert [r.name for r in of_type(hosts, "template")] == ["DC1_H0_VM0"]


def test_every_type_and_relationship_of_a_small_vcenter(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    resources = collect(vcenter_class, small_vcsim)

    by_ref = {r.ems_ref: r for r in resources}
    counts = Counter(r.resource_type_slug for r in resources)
    assert counts == {
        "datacenter": 2,
        "container_orchestration_platform": 4,
        "hypervisor_host": 10,
        "auto_scaling_group": 10,  # per cluster a root and a child pool; a standalone root
        "block_storage": 2,
        "network": 6,  # per datacenter: VM Network, a port group and the uplinks
        "virtual_switch": 2,
        "virtual_machine": 12,
    }
    dcs = {r.name: r.ems_ref for r in of_type(resources, "datacenter")}
    stores = {r.region: r.ems_ref for r in of_type(resources, "block_storage")}
    for host in of_type(resources, "hypervisor_host"):
        (parent,) = targets(host, "member_of")
        standalone = by_ref[parent].resource_type_slug == "datacenter"
        assert standalone == (host.name in ("DC0_H0", "DC1_H0"))
        assert host.availability_zone == (None if standalone else by_ref[parent].name)
        assert host.region == host.name[:3]
        assert targets(host, "attached_to") == [stores[host.region]]
    for pool in of_type(resources, "auto_scaling_group"):
        (above,) = targets(pool, "part_of")
        if pool.properties["root"]:  # "Resources" of a cluster, or of a standalone host
            assert by_ref[above].name == pool.properties["owner"]
            assert by_ref[above].resource_type_slug in (
                "container_orchestration_platform",
                "hypervisor_host",
            )
        else:
            assert by_ref[above].properties["root"] is True
    for slug in ("container_orchestration_platform", "block_storage", "network", "virtual_switch"):
        for resource in of_type(resources, slug):
            assert targets(resource, "member_of")[0] in dcs.values()
    portgroup = next(r for r in of_type(resources, "network") if r.name == "DC0_DVPG0")
    assert by_ref[targets(portgroup, "part_of")[0]].name == "DVS0"
    for vm in of_type(resources, "virtual_machine"):
        assert by_ref[targets(vm, "runs_on")[0]].resource_type_slug == "hypervisor_host"
        assert by_ref[targets(vm, "member_of")[0]].resource_type_slug == "auto_scaling_group"
        assert by_ref[targets(vm, "attached_to")[0]].resource_type_slug == "block_storage"
        assert by_ref[targets(vm, "connected_to")[0]].name == f"{vm.region}_DVPG0"


def test_values_are_plain_python_not_pyvmomi_types(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    plain = (str, int, float, bool, list, dict, type(None))

    for resource in collect(vcenter_class, small_vcsim):
        wire = resource.to_dict()
        assert json.loads(json.dumps(wire, default=str)) is not None
        for name, value in wire.items():
            assert type(value) in plain, (name, type(value))
        for value in (*resource.properties.values(), *resource.vendor_identifiers.values()):
            items = value if type(value) is list else [value]  # a VM's snapshot names
            assert all(type(item) in (str, int, float, bool) for item in items), value


def test_states_are_mapped_and_the_platform_word_kept(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    with small_vcsim.session() as instance:
        vms, hosts = by_name(instance, vim.VirtualMachine), by_name(instance, vim.HostSystem)
        wait(vms["DC0_H0_VM0"].PowerOffVM_Task())
        wait(vms["DC0_H0_VM1"].SuspendVM_Task())
        wait(vms["DC1_H0_VM0"].PowerOffVM_Task())
        vms["DC1_H0_VM0"].MarkAsTemplate()
        wait(hosts["DC0_C0_H0"].EnterMaintenanceMode_Task(timeout=0))

    found = {r.name: r for r in collect(vcenter_class, small_vcsim)}

    def seen(name: str) -> tuple[str, str, str | None]:
        return found[name].resource_type_slug, found[name].state, found[name].power_state

    assert seen("DC0_C0_RP0_VM0") == ("virtual_machine", "running", "poweredOn")
    assert seen("DC0_H0_VM0") == ("virtual_machine", "stopped", "poweredOff")
    assert seen("DC0_H0_VM1") == ("virtual_machine", "suspended", "suspended")
    assert seen("DC1_H0_VM0") == ("template", "inactive", "poweredOff")
    assert seen("DC0_C0_H0") == ("hypervisor_host", "inactive", "poweredOn")
    assert found["DC0_C0_H0"].properties["maintenance_mode"] is True
    assert seen("DC0_C0_H1") == ("hypervisor_host", "active", "poweredOn")
    assert found["DC0_C0_H1"].properties["connection_state"] == "connected"


def test_wrong_credentials_are_unauthenticated(
    vcenter_class: type[BaseProvider], locked_vcsim: Vcsim
) -> None:
    wrong = locked_vcsim.connection_config(password="not-the-password")

    with pytest.raises(Unauthenticated) as refused:
        run_provider(vcenter_class, endpoint=ENDPOINT, connection_config=wrong)

    assert "refused the login of 'administrator@vsphere.local'" in str(refused.value)
    assert "check username and password" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    assert len(collect(vcenter_class, locked_vcsim)) > 0  # the right password is let in


@pytest.mark.parametrize("where", ["closed_port", "silent_port"])
def test_an_unreachable_endpoint_fails_within_the_timeout(
    vcenter_class: type[BaseProvider], where: str, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue(where)
    config = {"username": "u", "password": "p", "port": port, "timeout": 2}
    started = time.monotonic()

    with pytest.raises(Unreachable) as failed:
        run_provider(vcenter_class, endpoint=ENDPOINT, connection_config=config)

    assert time.monotonic() - started < 8
    expected = "refused the connection" if where == "closed_port" else "did not answer within 2 s"
    assert expected in str(failed.value)


def test_tls_is_verified_by_default_against_the_trusted_cas(
    vcenter_class: type[BaseProvider],
    small_vcsim: Vcsim,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = small_vcsim.connection_config()
    del config["verify_ssl"]  # the default: verify

    with pytest.raises(Unreachable) as refused:
        run_provider(vcenter_class, endpoint=ENDPOINT, connection_config=config)

    assert "the TLS certificate of 127.0.0.1" in str(refused.value)
    assert "self-signed certificate" in str(refused.value)
    assert "set verify_ssl to false" in str(refused.value)
    assert len(collect(vcenter_class, small_vcsim, verify_ssl="false")) == 48
    bundle = tmp_path / "vcenter-ca.pem"
    bundle.write_text(small_vcsim.certificate())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # as an operator trusts a private CA
    verified = run_provider(vcenter_class, endpoint=ENDPOINT, connection_config=config)
    assert len(verified) == 48


def test_a_standalone_esxi_host_is_collected_too(
    vcenter_class: type[BaseProvider], esxi_vcsim: Vcsim
) -> None:
    resources = {r.resource_type_slug: r for r in collect(vcenter_class, esxi_vcsim)}

    assert sorted(resources) == [
        "auto_scaling_group",
        "block_storage",
        "datacenter",
        "hypervisor_host",
        "network",
        "virtual_machine",
    ]
    host, vm = resources["hypervisor_host"], resources["virtual_machine"]
    assert host.relationships[0] == {
        "target_ems_ref": "ha-datacenter",
        "relationship_type": "member_of",
    }
    assert targets(vm, "runs_on") == [host.ems_ref]
    assert targets(resources["auto_scaling_group"], "part_of") == [host.ems_ref]


def test_a_datacenter_that_vanishes_mid_run_is_reported_and_the_rest_collected(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    provider = make_provider(
        vcenter_class, endpoint=ENDPOINT, connection_config=small_vcsim.connection_config()
    )

    with small_vcsim.session() as instance, provider:
        doomed = instance.RetrieveContent().rootFolder.CreateDatacenter("DC-doomed")
        resources = provider.collect()
        first = next(resources)  # the datacenters are listed: now DC-doomed goes away
        wait(doomed.Destroy_Task())
        rest = [first, *resources]

    assert [p["part"] for p in provider.incomplete_parts] == ["datacenter DC-doomed"]
    assert "ManagedObjectNotFound" in provider.incomplete_parts[0]["error"]
    assert len(of_type(rest, "virtual_machine")) == 12
    assert "DC-doomed" in {r.name for r in of_type(rest, "datacenter")}


def test_the_datacenters_parameter_chooses_and_reports_missing_ones(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim
) -> None:
    config = small_vcsim.connection_config(datacenters=["DC1", "DC9"])
    provider = make_provider(vcenter_class, endpoint=ENDPOINT, connection_config=config)

    with provider:
        resources = list(provider.collect())

    assert {r.region for r in resources} == {"DC1"}
    assert len(of_type(resources, "virtual_machine")) == 6
    assert [p["part"] for p in provider.incomplete_parts] == ["datacenter DC9"]
    with pytest.raises(NotFound, match=r"none of the datacenters DC9 exists .*has: DC0, DC1"):
        collect(vcenter_class, small_vcsim, datacenters="DC9")


def test_a_throttled_answer_is_retried_with_backoff(
    vcenter_class: type[BaseProvider], small_vcsim: Vcsim, caplog: pytest.LogCaptureFixture
) -> None:
    small_vcsim.answer_next_with(503)

    with caplog.at_level(logging.WARNING):
        resources = collect(vcenter_class, small_vcsim)

    assert len(of_type(resources, "virtual_machine")) == 12
    assert any(
        "503 Service Unavailable to RetrieveServiceContent; retrying" in m for m in caplog.messages
    )


@pytest.mark.parametrize(
    ("endpoint", "config", "message"),
    [
        ("", {}, "endpoint: is required"),
        ("http://vc.lab", {}, "endpoint: vCenter speaks HTTPS only"),
        ("https://u:p@vc.lab", {}, "without credentials"),
        ("vc.lab:8443", {"port": 9443}, "differs from the endpoint's port 8443"),
        ("vc.lab", {"username": ""}, "connection_config.username: is required"),
        ("vc.lab", {"verify_ssl": "maybe"}, "connection_config.verify_ssl: must be true or false"),
        ("vc.lab", {"timeout": 0}, "connection_config.timeout: must be a number from 1 to 600"),
        ("vc.lab", {"page_size": "many"}, "connection_config.page_size: must be a number"),
        ("vc.lab", {"datacenters": [1]}, "connection_config.datacenters: must be a list"),
    ],
)
def test_bad_settings_name_the_parameter_before_any_connection(
    vcenter_class: type[BaseProvider], endpoint: str, config: dict[str, Any], message: str
) -> None:
    payload = {"username": "u", "password": "p", **config}

    with pytest.raises(InvalidConfig, match=message):
        run_provider(vcenter_class, endpoint=endpoint, connection_config=payload)
