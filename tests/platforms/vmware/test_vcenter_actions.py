"""The vmware:vcenter plugin's lifecycle actions against vcsim, through the provider class.

Each action runs as the service runs it (``run_action`` on a provider whose
``connect()`` was never called) and a following collection shows what it did.
A test that changes the simulated vCenter has a fresh vcsim of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVmomi import vim

from emulators.vcsim import Size, Vcsim, by_name, vcsim, wait
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    Unauthenticated,
    Unsupported,
)
from inventory_providers.testing import make_provider, run_provider

ENDPOINT = "127.0.0.1"
UNKNOWN = "vm-99999"


def started(size: Size) -> Iterator[Vcsim]:
    try:
        with vcsim(size) as simulator:
            yield simulator
    except RuntimeError as exc:  # never a skip: CI must have vcsim (make platforms)
        pytest.fail(f"vcsim cannot start: {exc}")


@pytest.fixture(scope="module")
def untouched_vcsim() -> Iterator[Vcsim]:
    """A small vcsim nothing in this module changes."""
    yield from started(Size())


@pytest.fixture
def fresh_vcsim() -> Iterator[Vcsim]:
    """A small vcsim of one's own: a cluster of 3 hosts, a standalone host, 4 VMs."""
    yield from started(Size())


def provider(cls: type[BaseProvider], simulator: Vcsim) -> BaseProvider:
    return make_provider(cls, endpoint=ENDPOINT, connection_config=simulator.connection_config())


def machines(cls: type[BaseProvider], simulator: Vcsim) -> dict[str, ResourceData]:
    """The VMs and templates of a fresh collection, by name."""
    resources = run_provider(
        cls, endpoint=ENDPOINT, connection_config=simulator.connection_config()
    )
    kinds = ("virtual_machine", "template")
    return {str(r.name): r for r in resources if r.resource_type_slug in kinds}


def record(resource: ResourceData) -> dict[str, Any]:
    """The stored record an ``available`` check sees."""
    return resource.to_dict() | {"properties": resource.properties or {}}


def test_power_actions_converge_are_idempotent_and_show_in_the_next_collection(
    vcenter_class: type[BaseProvider], fresh_vcsim: Vcsim
) -> None:
    plugin = provider(vcenter_class, fresh_vcsim)
    vm = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM0"]
    assert vm.state == "running"

    assert plugin.run_action("power_on", vm.ems_ref, {}) == {
        "changed": False, "power_state": "poweredOn"
    }  # fmt: skip
    assert plugin.run_action("power_off", vm.ems_ref, {})["changed"] is True
    assert plugin.run_action("power_off", vm.ems_ref, {})["changed"] is False
    assert machines(vcenter_class, fresh_vcsim)["DC0_H0_VM0"].state == "stopped"
    with pytest.raises(InvalidParameter, match=r"reboot: vm-.* is poweredOff, not running"):
        plugin.run_action("reboot", vm.ems_ref, {})

    assert plugin.run_action("power_on", vm.ems_ref, {})["changed"] is True
    booted = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM0"]
    assert booted.state == "running"
    rebooted = plugin.run_action("reboot", vm.ems_ref, {})
    # vcsim has no RebootGuest: the guest cannot be asked, so the VM is reset, and says so
    assert (rebooted["method"], "RebootGuest" in rebooted["why"]) == ("reset", True)
    again = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM0"]
    assert again.state == "running" and again.boot_time != booted.boot_time

    with pytest.raises(InvalidParameter, match=r"params.timeout: must be >= 0"):
        plugin.run_action("shutdown", vm.ems_ref, {"timeout": -1})
    assert plugin.run_action("shutdown", vm.ems_ref, {"timeout": 10}) == {
        "changed": True, "before": "poweredOn", "power_state": "poweredOff"
    }  # fmt: skip
    assert plugin.run_action("shutdown", vm.ems_ref, {})["changed"] is False
    described = plugin.run_action("describe", vm.ems_ref, {})
    assert (described["name"], described["state"]) == ("DC0_H0_VM0", "stopped")
    assert described["properties"]["snapshot_count"] == 0


def test_delete_destroys_a_powered_off_vm_only(
    vcenter_class: type[BaseProvider], fresh_vcsim: Vcsim
) -> None:
    plugin = provider(vcenter_class, fresh_vcsim)
    vm = machines(vcenter_class, fresh_vcsim)["DC0_C0_RP0_VM0"]
    assert plugin.action_availability("delete", record(vm)) == (
        False, "it is running: power it off first (power_off or shutdown)"
    )  # fmt: skip
    with pytest.raises(InvalidParameter, match="is poweredOn: power it off first"):
        plugin.run_action("delete", vm.ems_ref, {})

    plugin.run_action("power_off", vm.ems_ref, {})
    assert plugin.run_action("delete", vm.ems_ref, {}) == {
        "deleted": vm.ems_ref, "name": "DC0_C0_RP0_VM0"
    }  # fmt: skip

    assert "DC0_C0_RP0_VM0" not in machines(vcenter_class, fresh_vcsim)
    with pytest.raises(NotFound, match=f"no virtual machine '{vm.ems_ref}'"):
        plugin.run_action("delete", vm.ems_ref, {})


def test_every_action_on_an_unknown_vm_is_not_found_and_an_undeclared_one_unsupported(
    vcenter_class: type[BaseProvider], untouched_vcsim: Vcsim
) -> None:
    plugin = provider(vcenter_class, untouched_vcsim)
    arguments = {
        "shutdown": {"timeout": 1},
        "snapshot_create": {"name": "s"},
        "snapshot_revert": {"snapshot": "s"},
        "snapshot_delete": {"snapshot": "s"},
        "clone": {"name": "c"},
    }
    on_resources = [s for s in vcenter_class.action_specs().values() if not s.is_provider_level]
    assert len(on_resources) == 12
    for spec in on_resources:
        with pytest.raises(NotFound, match=f"no virtual machine '{UNKNOWN}'"):
            plugin.run_action(spec.name, UNKNOWN, arguments.get(spec.name, {}))
    with pytest.raises(Unsupported, match="vmware:vcenter has no action 'resize'"):
        plugin.run_action("resize", "vm-57", {"cpu": 2})
    with pytest.raises(InvalidParameter, match=r"params.template: no template 'golden'"):
        plugin.run_action("instance_create", None, {"template": "golden", "name": "x"})
    assert plugin.run_action("template_list", None, {}) == []
    assert len(machines(vcenter_class, untouched_vcsim)) == 4  # nothing was made


def test_an_action_with_a_wrong_password_is_unauthenticated_without_the_password(
    vcenter_class: type[BaseProvider], locked_vcsim: Vcsim
) -> None:
    password = str(locked_vcsim.password)
    config = locked_vcsim.connection_config(password="not-" + password)
    plugin = make_provider(vcenter_class, endpoint=ENDPOINT, connection_config=config)

    with pytest.raises(Unauthenticated) as refused:
        plugin.run_action("power_off", "vm-57", {})

    assert "refused the login of 'administrator@vsphere.local'" in str(refused.value)
    assert password not in str(refused.value)


def test_snapshots_are_taken_listed_reverted_rolled_back_and_deleted(
    vcenter_class: type[BaseProvider], fresh_vcsim: Vcsim
) -> None:
    plugin = provider(vcenter_class, fresh_vcsim)
    vm = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM1"]
    assert plugin.action_availability("rollback", record(vm)) == (
        False, "the virtual machine has no snapshots"
    )  # fmt: skip

    first = plugin.run_action("snapshot_create", vm.ems_ref, {"name": "clean", "description": "d"})
    assert (first["snapshot"], first["power_state"]) == ("clean", "poweredOn")
    with pytest.raises(InvalidParameter, match=r"params.name: vm-.* has a snapshot 'clean'"):
        plugin.run_action("snapshot_create", vm.ems_ref, {"name": "clean"})
    plugin.run_action("power_off", vm.ems_ref, {})
    second = plugin.run_action("snapshot_create", vm.ems_ref, {"name": "stopped"})

    listed = plugin.run_action("snapshot_list", vm.ems_ref, {})
    assert [(s["name"], s["power_state"], s["current"]) for s in listed] == [
        ("clean", "poweredOn", False), ("stopped", "poweredOff", True)
    ]  # fmt: skip
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    collected = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM1"]
    assert collected.properties == collected.properties | {
        "snapshot_count": 2, "snapshots": ["clean", "stopped"], "current_snapshot": "stopped"
    }  # fmt: skip
    assert plugin.action_availability("rollback", record(collected)) == (True, "")

    reverted = plugin.run_action("snapshot_revert", vm.ems_ref, {"snapshot": "clean"})
    # vcsim reverts the snapshot only: the plugin brings the power state back itself
    assert reverted == {
        "reverted_to": "clean", "id": first["id"], "power_restored": ["PowerOnVM_Task"],
        "power_state": "poweredOn",
    }  # fmt: skip
    after = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM1"]
    assert (after.properties["current_snapshot"], after.state) == ("clean", "running")
    rolled = plugin.run_action("rollback", vm.ems_ref, {})
    assert (rolled["reverted_to"], rolled["power_state"]) == ("stopped", "poweredOff")
    back = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM1"]
    assert (back.properties["current_snapshot"], back.state) == ("stopped", "stopped")
    again = plugin.run_action("rollback", vm.ems_ref, {})
    assert "power_restored" not in again  # already in the snapshot's state
    with pytest.raises(NotFound, match="has no snapshot 'gone' \\(it has: 'clean', 'stopped'\\)"):
        plugin.run_action("snapshot_revert", vm.ems_ref, {"snapshot": "gone"})

    by_id = plugin.run_action("snapshot_delete", vm.ems_ref, {"snapshot": first["id"]})
    assert by_id == {"deleted": "clean", "id": first["id"]}
    plugin.run_action("snapshot_delete", vm.ems_ref, {"snapshot": "stopped"})
    emptied = machines(vcenter_class, fresh_vcsim)["DC0_H0_VM1"]
    assert (emptied.properties["snapshot_count"], emptied.properties["snapshots"]) == (0, [])
    with pytest.raises(NotFound, match="no snapshot to roll back to"):
        plugin.run_action("rollback", vm.ems_ref, {})


def test_clones_and_an_instance_of_a_template_appear_with_their_relationships_and_labels(
    vcenter_class: type[BaseProvider], fresh_vcsim: Vcsim
) -> None:
    plugin = provider(vcenter_class, fresh_vcsim)
    source = machines(vcenter_class, fresh_vcsim)["DC0_C0_RP0_VM0"]

    full = plugin.run_action("clone", source.ems_ref, {"name": "web-copy"})
    with pytest.raises(InvalidParameter, match=r"params.name: 'web-copy' exists in the folder"):
        plugin.run_action("clone", source.ems_ref, {"name": "web-copy"})
    with pytest.raises(InvalidParameter, match=r"params.mode: a linked clone .* has none"):
        plugin.run_action("clone", source.ems_ref, {"name": "web-linked", "mode": "linked"})
    plugin.run_action("snapshot_create", source.ems_ref, {"name": "base"})
    linked = plugin.run_action("clone", source.ems_ref, {"name": "web-linked", "mode": "linked"})

    with fresh_vcsim.session() as instance:
        golden = by_name(instance, vim.VirtualMachine)["DC0_C0_RP0_VM1"]
        wait(golden.PowerOffVM_Task())
        golden.MarkAsTemplate()
    (template,) = plugin.run_action("template_list", None, {})
    assert template["name"] == "DC0_C0_RP0_VM1"
    made = plugin.run_action(
        "instance_create",
        None,
        {"template": template["ems_ref"], "name": "ci-7", "realm": "ci", "labels": {"team": "qa"}},
    )
    assert made["labels"] == {"team": "qa", "template": "DC0_C0_RP0_VM1", "realm": "ci"}

    now = machines(vcenter_class, fresh_vcsim)
    assert now["DC0_C0_RP0_VM1"].resource_type_slug == "template"
    assert (now["web-copy"].ems_ref, now["web-linked"].ems_ref) == (
        full["ems_ref"], linked["ems_ref"]
    )  # fmt: skip
    instance = now["ci-7"]
    assert (instance.ems_ref, instance.state) == (made["ems_ref"], "stopped")
    assert instance.provider_tags == made["labels"]
    for copy in (now["web-copy"], now["web-linked"], instance):
        kinds = {edge["relationship_type"] for edge in copy.to_dict()["relationships"]}
        assert {"runs_on", "member_of", "attached_to", "connected_to"} <= kinds
    edges = {
        (e["relationship_type"], e["target_ems_ref"]) for e in source.to_dict()["relationships"]
    }
    copied = {
        (e["relationship_type"], e["target_ems_ref"])
        for e in now["web-copy"].to_dict()["relationships"]
    }
    assert ("member_of", next(t for k, t in edges if k == "member_of")) in copied
