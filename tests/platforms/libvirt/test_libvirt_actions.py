"""libvirt:kvm's actions in-process against libvirt's test driver behind a real libvirtd.

Each action opens its own read-write connection to the daemon; the collection after it
opens another (read-only), as the service's collection process does, and sees what the
action did because both reach the daemon's one host (``emulators.libvirt_daemon``).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.libvirt_daemon import Daemon, running_daemon
from emulators.libvirt_host import domain_uuid
from inventory_providers.base import BaseProvider
from inventory_providers.errors import InvalidParameter, NotFound, Unauthenticated, Unsupported
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider, run_provider

FOLDER = Path(__file__).resolve().parents[3] / "plugins" / "libvirt" / "kvm"
LibvirtKvm = load_class(FOLDER, "provider.LibvirtKvmProvider")
WEB, DB = domain_uuid(1), domain_uuid(2)
UNKNOWN = "5a1e0000-0000-4000-8000-0000000000ff"


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """One fresh host: ``web`` running, ``db`` stopped, and the driver's own ``test``."""
    with running_daemon() as started:
        started.add_domain(1, "web")
        started.add_domain(2, "db", running=False)
        yield started


@pytest.fixture(scope="module")
def idle_daemon() -> Iterator[Daemon]:
    """A host the tests only ask about (what acts on no domain changes nothing)."""
    with running_daemon() as started:
        yield started


def provider(daemon: Daemon) -> BaseProvider:
    return make_provider(LibvirtKvm, endpoint=daemon.uri)


def vms(daemon: Daemon) -> dict[str, dict[str, Any]]:
    """The domains as a collection (a connection of its own, read-only) sees them."""
    found = run_provider(LibvirtKvm, endpoint=daemon.uri)
    return {r.name: r.to_dict() for r in found if r.resource_type_slug == "virtual_machine"}


def test_power_actions_change_the_domain_once_and_the_next_collection_shows_it(
    daemon: Daemon,
) -> None:
    plugin = provider(daemon)

    off = plugin.run_action("power_off", WEB, {})
    again = plugin.run_action("power_off", WEB, {})
    stopped = vms(daemon)["web"]
    on = plugin.run_action("power_on", WEB, {})
    still = plugin.run_action("power_on", WEB, {})
    rebooted = plugin.run_action("reboot", WEB, {})
    down = plugin.run_action("shutdown", WEB, {"timeout": 10})
    idle = plugin.run_action("shutdown", WEB, {})

    assert off == {"changed": True, "before": "running", "state": "shutoff"}
    assert again == {"changed": False, "state": "shutoff"}
    assert (stopped["state"], stopped["power_state"]) == ("stopped", "shutoff")
    assert on == {"changed": True, "before": "shutoff", "state": "running"}
    assert still == {"changed": False, "state": "running"}
    assert rebooted == {"rebooted": WEB, "state": "running"}
    assert down == {"changed": True, "before": "running", "state": "shutoff"}
    assert idle == {"changed": False, "state": "shutoff"}
    assert vms(daemon)["web"]["state"] == "stopped"
    with pytest.raises(InvalidParameter, match="reboot: web is shutoff, not running"):
        plugin.run_action("reboot", WEB, {})
    with pytest.raises(InvalidParameter, match=r"params\.timeout: must be >= 0"):
        plugin.run_action("shutdown", DB, {"timeout": -1})


def test_describe_create_and_delete(daemon: Daemon) -> None:
    plugin = provider(daemon)

    described = plugin.run_action("describe", WEB, {})
    created = plugin.run_action("create", None, {"name": "blank", "cpu": 2, "memory_mb": 512})
    after_create = vms(daemon)
    deleted = plugin.run_action("delete", DB, {})

    assert described["uuid"] == WEB
    assert (described["state"], described["cpu_count"], described["memory_mb"]) == (
        "running",
        2,
        2048,
    )
    assert described["disks"] == ["/default-pool/web.qcow2"]
    blank = after_create["blank"]
    assert blank["ems_ref"] == created["ems_ref"]
    assert (blank["state"], blank["cpu_count"], blank["memory_mb"]) == ("stopped", 2, 512)
    assert deleted == {
        "deleted": DB,
        "name": "db",
        "disks_kept": ["/default-pool/db.qcow2"],
    }
    assert "db" not in vms(daemon)
    with pytest.raises(InvalidParameter, match="delete: web is running: power it off"):
        plugin.run_action("delete", WEB, {})
    with pytest.raises(InvalidParameter, match=r"create: params\.name: a domain named 'web'"):
        plugin.run_action("create", None, {"name": "web"})


def test_snapshots_are_taken_listed_reverted_rolled_back_and_deleted(daemon: Daemon) -> None:
    plugin = provider(daemon)
    record = vms(daemon)["web"]
    assert plugin.action_availability("rollback", record) == (
        False,
        "the domain has no snapshots",
    )

    plugin.run_action("snapshot_create", WEB, {"name": "clean", "description": "fresh"})
    plugin.run_action("power_off", WEB, {})
    plugin.run_action("snapshot_create", WEB, {"name": "off"})
    listed = plugin.run_action("snapshot_list", WEB, {})
    record = vms(daemon)["web"]
    reverted = plugin.run_action("snapshot_revert", WEB, {"snapshot": "clean"})
    running = vms(daemon)["web"]
    rolled = plugin.run_action("rollback", WEB, {})  # to "clean": the current one now

    assert [(s["name"], s["state"], s["parent"], s["current"]) for s in listed] == [
        ("clean", "running", None, False),
        ("off", "shutoff", "clean", True),
    ]
    assert listed[0]["description"] == "fresh"
    assert record["properties"]["snapshots"] == ["clean", "off"]
    assert record["properties"]["current_snapshot"] == "off"
    assert plugin.action_availability("rollback", record) == (True, "")
    assert reverted == {"reverted_to": "clean", "before": "shutoff", "state": "running"}
    assert (running["state"], running["properties"]["current_snapshot"]) == ("running", "clean")
    assert rolled["reverted_to"] == "clean"
    with pytest.raises(InvalidParameter, match=r"params.name: web has a snapshot 'off'"):
        plugin.run_action("snapshot_create", WEB, {"name": "off"})
    with pytest.raises(InvalidParameter, match=r"no snapshot 'gone' \(it has: clean, off\)"):
        plugin.run_action("snapshot_revert", WEB, {"snapshot": "gone"})

    assert plugin.run_action("snapshot_delete", WEB, {"snapshot": "off"}) == {
        "deleted": "off",
        "left": 1,
    }
    plugin.run_action("snapshot_delete", WEB, {"snapshot": "clean"})
    assert "snapshots" not in vms(daemon)["web"]["properties"]
    with pytest.raises(NotFound, match="no snapshot to roll back to"):
        plugin.run_action("rollback", WEB, {})


def test_a_clone_is_a_new_stopped_domain_with_its_own_disk_and_identity(daemon: Daemon) -> None:
    plugin = provider(daemon)

    full = plugin.run_action("clone", DB, {"name": "db-copy"})
    linked = plugin.run_action("clone", DB, {"name": "db-thin", "mode": "linked"})
    found = run_provider(LibvirtKvm, endpoint=daemon.uri)

    by_name = {r.name: r for r in found}
    source, copy, thin = by_name["db"], by_name["db-copy"], by_name["db-thin"]
    assert full == {
        "ems_ref": copy.ems_ref,
        "name": "db-copy",
        "mode": "full",
        "volumes": ["/default-pool/db-copy-vda.qcow2"],
    }
    assert copy.ems_ref != source.ems_ref and copy.state == "stopped"
    assert copy.mac_addresses and copy.mac_addresses != source.mac_addresses
    assert (copy.cpu_count, copy.memory_mb, copy.disk_gb) == (2, 2048, 20.0)
    edges = {
        (e["relationship_type"], by_ref(found, e["target_ems_ref"]))
        for e in copy.to_dict()["relationships"]
    }
    assert edges == {
        ("runs_on", next(r.name for r in found if r.resource_type_slug == "hypervisor_host")),
        ("attached_to", "db-copy-vda.qcow2"),
        ("connected_to", "default"),
    }
    assert linked["volumes"] == ["/default-pool/db-thin-vda.qcow2"]
    overlay = by_name["db-thin-vda.qcow2"]
    assert overlay.properties["backing_store"] == "/default-pool/db.qcow2"
    assert thin.state == "stopped"


def test_what_cannot_be_cloned_is_refused_by_name(daemon: Daemon) -> None:
    plugin = provider(daemon)
    daemon.host.lookupByName("test").destroy()  # its disk is in no pool

    with pytest.raises(InvalidParameter, match="clone: web is running: power it off"):
        plugin.run_action("clone", WEB, {"name": "x"})
    with pytest.raises(InvalidParameter, match=r"params\.name: a domain named 'web' exists"):
        plugin.run_action("clone", DB, {"name": "web"})
    with pytest.raises(InvalidParameter, match=r"disk vda \(/guest/diskimage1\) is no volume"):
        plugin.run_action("clone", domain_uuid_of(daemon, "test"), {"name": "x"})
    with pytest.raises(InvalidParameter, match=r"params\.mode: must be one of"):
        plugin.run_action("clone", DB, {"name": "x", "mode": "thin"})
    assert sorted(d.name() for d in daemon.host.listAllDomains()) == ["db", "test", "web"]
    assert "x-vda.qcow2" not in daemon.host.storagePoolLookupByName("default-pool").listVolumes()


@pytest.mark.parametrize(
    "name,params",
    [
        ("power_on", {}),
        ("power_off", {}),
        ("shutdown", {"timeout": 1}),
        ("reboot", {}),
        ("describe", {}),
        ("delete", {}),
        ("snapshot_list", {}),
        ("snapshot_create", {"name": "s"}),
        ("rollback", {}),
        ("clone", {"name": "c"}),
    ],
)
def test_an_unknown_domain_is_not_found(
    idle_daemon: Daemon, name: str, params: dict[str, Any]
) -> None:
    with pytest.raises(NotFound, match=f"no domain with UUID '{UNKNOWN}'"):
        provider(idle_daemon).run_action(name, UNKNOWN, params)
    with pytest.raises(NotFound):
        provider(idle_daemon).run_action(name, "not-a-uuid", params)


def test_a_read_only_socket_refuses_the_change_as_unauthenticated(idle_daemon: Daemon) -> None:
    """As qemu:///system's libvirt-sock-ro does for a user outside the libvirt group."""
    read_only = idle_daemon.uri.replace("libvirt-sock", "libvirt-sock-ro")
    test_domain = domain_uuid_of(idle_daemon, "test")

    with pytest.raises(Unauthenticated, match="read only access prevents virDomainDestroy"):
        make_provider(LibvirtKvm, endpoint=read_only).run_action("power_off", test_domain, {})
    assert idle_daemon.host.lookupByName("test").isActive()


def test_the_plugin_declares_core_snapshot_and_clone_and_no_templates() -> None:
    assert LibvirtKvm.implemented_profiles() == ["core", "snapshot", "clone"]
    with pytest.raises(Unsupported):
        make_provider(LibvirtKvm, endpoint="test:///default").run_action("template_list", None, {})


def by_ref(found: list[Any], ems_ref: str) -> str:
    return str(next(r.name for r in found if r.ems_ref == ems_ref))


def domain_uuid_of(daemon: Daemon, name: str) -> str:
    return str(daemon.host.lookupByName(name).UUIDString())
