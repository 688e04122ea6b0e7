"""The libvirt:kvm plugin in-process against libvirt's own test driver (no daemon).

The host is a ``test:///ABS/PATH.xml`` file written by ``emulators.libvirt_host``;
``test:///default`` is the one test host a process shares between its connections,
which is how a test changes the host while the plugin is in the middle of reading it.
"""

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import libvirt
import pytest

from emulators.libvirt_host import RUNSTATES, Nic, domain_uuid, mac_of, standard_host
from emulators.silent import closed_port, silent_listener
from inventory_providers.base import ResourceData
from inventory_providers.errors import InvalidConfig, Unauthenticated, Unreachable
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider, run_provider

FOLDER = Path(__file__).resolve().parents[3] / "plugins" / "libvirt" / "kvm"
LibvirtKvm = load_class(FOLDER, "provider.LibvirtKvmProvider")


def collect(uri: str, **config: Any) -> list[dict[str, Any]]:
    return [r.to_dict() for r in run_provider(LibvirtKvm, endpoint=uri, connection_config=config)]


def of_type(resources: list[dict[str, Any]], slug: str) -> dict[str, dict[str, Any]]:
    return {r["ems_ref"]: r for r in resources if r["resource_type_slug"] == slug}


def edges(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["relationship_type"], e["target_ems_ref"]) for e in resource["relationships"]}


def test_a_host_is_collected_type_by_type_with_its_edges(tmp_path: Path) -> None:
    host = standard_host(10)
    for index, word in enumerate(RUNSTATES):  # one domain in each libvirt state
        host.domains[index].runstate = word
    host.domains[9].transient = True
    uri = host.write(tmp_path / "host.xml")

    found = collect(uri)

    assert Counter(r["resource_type_slug"] for r in found) == {
        "hypervisor_host": 1,
        "network": 2,
        "storage_pool": 2,
        "block_storage": 12,
        "virtual_machine": 10,
    }
    (node,) = of_type(found, "hypervisor_host").values()
    assert (node["cpu_count"], node["memory_mb"]) == (32, 262144)
    assert node["properties"]["hypervisor"] == "TEST"
    assert node["properties"]["cpu_mhz"] == 2400
    vms = {vm["name"]: vm for vm in of_type(found, "virtual_machine").values()}
    assert {name: (vm["state"], vm["power_state"]) for name, vm in vms.items()} == {
        "vm00000": ("unknown", "nostate"),
        "vm00001": ("running", "running"),
        "vm00002": ("running", "blocked"),
        "vm00003": ("suspended", "paused"),
        "vm00004": ("running", "shutdown"),
        "vm00005": ("stopped", "shutoff"),
        "vm00006": ("error", "crashed"),
        "vm00007": ("suspended", "pmsuspended"),
        "vm00008": ("running", "running"),
        "vm00009": ("running", "running"),
    }
    vm = vms["vm00000"]
    assert vm["ems_ref"] == vm["canonical_id"] == domain_uuid(0)
    assert (vm["cpu_count"], vm["memory_mb"], vm["disk_gb"]) == (1, 1024, 20.0)
    assert vm["mac_addresses"] == ["52:54:00:00:00:00", "52:54:01:00:00:00"]
    assert [d["source"] for d in vm["properties"]["disks"]] == [
        "/var/lib/libvirt/images/vm00000.qcow2"
    ]
    assert [n.get("network", n.get("bridge")) for n in vm["properties"]["interfaces"]] == [
        "default",
        "br-ext",
    ]
    assert (vm["properties"]["persistent"], vms["vm00009"]["properties"]["persistent"]) == (
        True,
        False,
    )
    networks = {n["name"]: ref for ref, n in of_type(found, "network").items()}
    pools = {p["name"]: ref for ref, p in of_type(found, "storage_pool").items()}
    volume = "/var/lib/libvirt/images/vm00000.qcow2"
    assert edges(vm) == {
        ("runs_on", node["ems_ref"]),
        ("attached_to", volume),
        ("connected_to", networks["default"]),
    }
    assert edges(vms["vm00001"]) == {
        ("runs_on", node["ems_ref"]),
        ("attached_to", "/srv/pool1/vm00001.qcow2"),
        ("connected_to", networks["net1"]),
    }
    assert edges(of_type(found, "block_storage")[volume]) == {("member_of", pools["default"])}
    for infrastructure in [
        *of_type(found, "network").values(),
        *of_type(found, "storage_pool").values(),
    ]:
        assert edges(infrastructure) == {("part_of", node["ems_ref"])}
    assert of_type(found, "block_storage")[volume]["properties"]["format"] == "qcow2"


def test_a_targeted_collection_yields_the_full_runs_records_of_its_types(
    tmp_path: Path,
) -> None:
    host = standard_host(6)
    host.domains[1].runstate = "paused"
    host.domains[5].transient = True
    uri = host.write(tmp_path / "host.xml")

    def collected(*targets: str) -> list[dict[str, Any]]:
        found = run_provider(LibvirtKvm, endpoint=uri, target_resource_types=targets)
        return [r.to_dict() for r in found]

    full = collect(uri)
    for targets in [("virtual_machine",), ("storage_pool",), ("hypervisor_host", "network")]:
        found = collected(*targets)
        assert [r for r in full if r["resource_type_slug"] in targets] == found, targets
    vms = collected("virtual_machine")
    assert len(vms) == 6
    assert all(
        {kind for kind, _ in edges(vm)} == {"runs_on", "attached_to", "connected_to"} for vm in vms
    )
    assert all(vm["disk_gb"] > 0 for vm in vms)  # the sizes of volumes it does not yield


def test_five_thousand_domains_arrive_exactly_once(tmp_path: Path) -> None:
    uri = standard_host(5000).write(tmp_path / "host.xml")

    started = time.perf_counter()
    found = run_provider(LibvirtKvm, endpoint=uri)
    seconds = time.perf_counter() - started

    vms = [r.ems_ref for r in found if r.resource_type_slug == "virtual_machine"]
    assert len(vms) == len(set(vms)) == 5000
    assert set(vms) == {domain_uuid(i) for i in range(5000)}
    volumes = [r for r in found if r.resource_type_slug == "block_storage"]
    assert len(volumes) == 5002
    assert seconds < 60, f"5,000 domains took {seconds:.1f} s"


def test_a_disk_outside_any_volume_is_attached_to_the_pool_holding_its_folder_once(
    tmp_path: Path,
) -> None:
    host = standard_host(1)
    host.domains[0].disks.append("/var/lib/libvirt/images/unlisted.raw")
    host.domains[0].disks.append("/var/lib/libvirt/images/unlisted-too.raw")
    host.domains[0].disks.append("/mnt/elsewhere/disk.raw")
    host.domains[0].nics.append(Nic(mac=mac_of(0, 2), network="default"))

    found = collect(host.write(tmp_path / "host.xml"))

    (vm,) = of_type(found, "virtual_machine").values()
    pools = {p["name"]: ref for ref, p in of_type(found, "storage_pool").items()}
    networks = {n["name"]: ref for ref, n in of_type(found, "network").items()}
    assert sorted((e["relationship_type"], e["target_ems_ref"]) for e in vm["relationships"]) == [
        ("attached_to", "/var/lib/libvirt/images/vm00000.qcow2"),
        ("attached_to", pools["default"]),  # once for both files in its folder
        ("connected_to", networks["default"]),  # once for both NICs on it
        ("runs_on", of_type(found, "hypervisor_host").popitem()[0]),
    ]
    assert len(vm["properties"]["disks"]) == 4
    assert len(vm["mac_addresses"]) == 3


# -- credentials and reachability ----------------------------------------------------


@pytest.fixture
def guarded_host(tmp_path: Path) -> str:
    """A host that asks for a user name and password (the test driver's <auth>)."""
    host = standard_host(2)
    host.auth = ("estate", "s3cret-pass")
    return host.write(tmp_path / "guarded.xml")


def test_the_right_credentials_collect(guarded_host: str) -> None:
    found = collect(guarded_host, username="estate", password="s3cret-pass")

    assert len(of_type(found, "virtual_machine")) == 2


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"username": "estate", "password": "Wr0ng-Pa55"}, "check username and password"),
        ({"username": "intruder", "password": "s3cret-pass"}, "check username and password"),
        ({}, "set username and password in connection_config"),
    ],
    ids=["wrong-password", "wrong-user", "none"],
)
def test_missing_or_wrong_credentials_are_unauthenticated(
    guarded_host: str, config: dict[str, str], says: str
) -> None:
    with pytest.raises(Unauthenticated, match=says) as raised:
        collect(guarded_host, **config)

    assert "Wr0ng-Pa55" not in str(raised.value)  # never the password given


def test_a_closed_port_is_unreachable_at_once() -> None:
    uri = f"qemu+tcp://127.0.0.1:{closed_port()}/system"
    started = time.monotonic()

    with pytest.raises(Unreachable, match="Connection refused"):
        collect(uri, timeout=5)

    assert time.monotonic() - started < 5


def test_a_host_that_never_answers_is_unreachable_within_the_timeout() -> None:
    with silent_listener() as port:
        uri = f"qemu+tcp://127.0.0.1:{port}/system"
        started = time.monotonic()

        with pytest.raises(Unreachable, match="no answer within 2 s"):
            collect(uri, timeout=2)

        assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    ("endpoint", "config", "says"),
    [
        ("kvm1.example.com", {}, "is not a libvirt URI"),
        (None, {}, "endpoint: required"),
        ("qemu:///system", {"timeout": "soon"}, "timeout: must be a number"),
        ("qemu:///system", {"timeout": 0}, "timeout: must be a number"),
        ("qemu:///system", {"verify_ssl": "no"}, "verify_ssl: must be true or false"),
    ],
)
def test_bad_settings_are_named(endpoint: str | None, config: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidConfig, match=says):
        collect(endpoint, **config)  # type: ignore[arg-type]


def test_verify_ssl_false_turns_off_the_transports_peer_check() -> None:
    connection = __import__(f"{LibvirtKvm.__module__.rpartition('.')[0]}.connection").connection
    check = connection.with_verification

    assert check("qemu+tls://h/system", False) == "qemu+tls://h/system?no_verify=1"
    assert check("qemu+ssh://root@h/system?keyfile=/k", False) == (
        "qemu+ssh://root@h/system?keyfile=%2Fk&no_verify=1"
    )
    assert check("qemu+libssh2://h/system", False).endswith("known_hosts_verify=ignore")
    assert check("qemu+tls://h/system", True) == "qemu+tls://h/system"
    assert check("qemu:///system", False) == "qemu:///system"


def test_the_connection_test_names_the_host_or_the_failure(
    guarded_host: str, tmp_path: Path
) -> None:
    good = make_provider(
        LibvirtKvm,
        endpoint=guarded_host,
        connection_config={"username": "estate", "password": "s3cret-pass"},
    )
    bad = make_provider(LibvirtKvm, endpoint=guarded_host, connection_config={})

    ok, message = good.validate_connection()
    refused, reason = bad.validate_connection()

    assert ok, message
    assert message.startswith("connected to ") and "(TEST)" in message
    assert not refused
    assert reason.startswith("Unauthenticated: ")


# -- the host changing while it is read ------------------------------------------------


@pytest.fixture
def shared_host() -> Any:
    """``test:///default`` opened read-write: the process's one shared test host, with a
    second pool, so a test can change it while the plugin reads it. Closing the last
    connection resets it."""
    admin = libvirt.open("test:///default")
    pool = admin.storagePoolDefineXML(
        "<pool type='dir'><name>scratch</name><target><path>/scratch</path></target></pool>"
    )
    pool.create()
    volume = "<volume><name>a.img</name><capacity unit='GiB'>1</capacity></volume>"
    pool.createXML(volume)
    admin.storagePoolLookupByName("default-pool").createXML(volume)
    yield admin
    admin.close()


def read_until(resources: Any, found: list[ResourceData], count: int, slug: str) -> None:
    while sum(r.resource_type_slug == slug for r in found) < count:
        found.append(next(resources))


def test_a_pool_stopped_while_it_is_read_makes_the_run_partial(shared_host: Any) -> None:
    provider = make_provider(LibvirtKvm, endpoint="test:///default")
    found: list[ResourceData] = []
    with provider:
        resources = provider.collect()
        read_until(resources, found, 2, "storage_pool")  # every pool, no volume yet
        shared_host.storagePoolLookupByName("scratch").destroy()
        found.extend(resources)

    (part,) = provider.incomplete_parts
    assert part["part"] == "storage pool scratch volumes"
    assert "is not active" in part["error"]
    pools = {r.properties["pool"] for r in found if r.resource_type_slug == "block_storage"}
    assert pools == {"default-pool"}
    assert [r.name for r in found if r.resource_type_slug == "virtual_machine"] == ["test"]


def test_a_domain_removed_while_it_is_read_is_simply_not_there(
    shared_host: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("short-lived-1", "short-lived-2"):
        shared_host.defineXML(
            f"<domain type='test'><name>{name}</name><memory>65536</memory>"
            "<os><type>hvm</type></os></domain>"
        )
    caplog.set_level(logging.INFO)
    provider = make_provider(LibvirtKvm, endpoint="test:///default")
    found: list[ResourceData] = []
    with provider:
        resources = provider.collect()
        read_until(resources, found, 1, "virtual_machine")  # listed; one read
        gone = min({"short-lived-1", "short-lived-2"} - {r.name for r in found})  # not read yet
        shared_host.lookupByName(gone).undefine()
        found.extend(resources)

    names = {r.name for r in found if r.resource_type_slug == "virtual_machine"}
    assert names == {"test", "short-lived-1", "short-lived-2"} - {gone}
    assert provider.incomplete_parts == []
    assert f"domain {gone} was removed while it was read; skipped" in caplog.text
