"""proxmox:pve's actions against fakepve, in-process: each action acts on the emulator
through proxmoxer, waits for PVE's task, and the next collection shows what it did.

The tests share one fakepve started for this module (its start is the costly part);
each test acts on guests of its own, so none depends on another's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from emulators.fakepve import FakePve, guests, running_fakepve
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
    Unsupported,
)
from inventory_providers.testing import make_provider

TEMPLATE_NOTES = (
    "Web challenge\nchatsubo.template=web-easy\nchatsubo.realm=none\nchatsubo.flag=F{1}"
)
TEMPLATE = {
    "vmid": 9000, "node": "pve1", "name": "tpl-web", "status": "stopped", "template": True,
    "config": {"description": TEMPLATE_NOTES, "memory": 1024, "cores": 1,
               "scsi0": "local-lvm:base-9000-disk-0,size=8G"},
}  # fmt: skip
# The guests the tests act on (guests(10)): qemu/100 stopped, 101-103 running, lxc/104
# running, qemu/105-107 running; 108 stopped, lxc/109 running.


@pytest.fixture(scope="module")
def pve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePve]:
    with running_fakepve(tmp_path_factory.mktemp("pve-actions"), [*guests(10), TEMPLATE]) as fake:
        yield fake


@pytest.fixture
def provider(pve: FakePve, pve_class: type[BaseProvider]) -> BaseProvider:
    """The plugin as its long-lived process holds it: never connected by the test."""
    config = {"username": pve.user, "password": pve.password, "port": pve.port,
              "verify_ssl": False}  # fmt: skip
    return make_provider(pve_class, endpoint=pve.host, connection_config=config)


def run(provider: BaseProvider, action: str, ref: str | None, /, **params: Any) -> Any:
    return provider.run_action(action, ref, params)


def collected(provider: BaseProvider) -> dict[str, ResourceData]:
    with provider:
        return {resource.ems_ref: resource for resource in provider.collect()}


def record(resource: ResourceData) -> dict[str, Any]:
    """The resource as the service hands it to an ``available`` check."""
    return {"ems_ref": resource.ems_ref, "state": resource.state,
            "properties": resource.properties}  # fmt: skip


def test_the_manifest_claims_the_profiles_the_class_implements(
    pve_class: type[BaseProvider],
) -> None:
    manifest = yaml.safe_load((REPO / "plugins/proxmox/pve/manifest.yml").read_text())

    assert manifest["profiles"] == pve_class.implemented_profiles() == ["core", "snapshot", "clone"]
    assert set(pve_class.action_specs()) == {
        "power_on", "power_off", "shutdown", "reboot", "describe", "delete",
        "snapshot_create", "snapshot_list", "snapshot_revert", "snapshot_delete", "rollback",
        "clone", "template_list", "instance_create",
    }  # fmt: skip


def test_power_actions_are_idempotent_and_the_next_collection_shows_them(
    provider: BaseProvider,
) -> None:
    assert run(provider, "power_on", "qemu/101")["changed"] is False
    assert run(provider, "power_on", "qemu/100")["changed"] is True
    assert run(provider, "power_off", "qemu/102")["changed"] is True
    assert run(provider, "power_off", "qemu/102")["changed"] is False
    assert run(provider, "shutdown", "qemu/103", timeout=20)["changed"] is True
    assert run(provider, "shutdown", "qemu/103")["changed"] is False
    assert run(provider, "shutdown", "lxc/104")["changed"] is True
    assert run(provider, "reboot", "qemu/105")["changed"] is True
    with pytest.raises(InvalidParameter, match="reboot: qemu/102 is stopped, not running"):
        run(provider, "reboot", "qemu/102")
    with pytest.raises(InvalidParameter, match=r"params\.timeout: must be >= 0"):
        run(provider, "shutdown", "qemu/101", timeout=-1)
    with pytest.raises(Unsupported, match="qemu/9000 is a template"):
        run(provider, "power_on", "qemu/9000")

    found = collected(provider)
    states = {ref: found[ref].state for ref in ("qemu/100", "qemu/101", "qemu/102", "qemu/103",
                                                "lxc/104", "qemu/105")}  # fmt: skip
    assert states == {"qemu/100": "running", "qemu/101": "running", "qemu/102": "stopped",
                      "qemu/103": "stopped", "lxc/104": "stopped", "qemu/105": "running"}  # fmt: skip
    assert provider.api is None  # each action logged in and left its session


def test_an_unknown_guest_is_not_found_and_an_undeclared_action_unsupported(
    provider: BaseProvider,
) -> None:
    params = {"shutdown": {}, "snapshot_create": {"name": "x"}, "snapshot_revert": {"snapshot": "x"},
              "snapshot_delete": {"snapshot": "x"}, "clone": {"name": "x"}}  # fmt: skip
    specs = type(provider).action_specs()
    for name in (n for n, spec in specs.items() if not spec.is_provider_level):
        with pytest.raises(NotFound, match="no guest qemu/999 in the cluster"):
            run(provider, name, "qemu/999", **params.get(name, {}))
    for ref in ("node/pve1", "lxc/abc"):
        with pytest.raises(NotFound, match="names no guest"):
            run(provider, "power_off", ref)
    with pytest.raises(Unsupported, match="no action 'migrate'"):
        run(provider, "migrate", "qemu/101", target="pve2")


def test_snapshots_revert_and_rollback_restore_the_recorded_state(
    provider: BaseProvider, pve: FakePve
) -> None:
    vm = "qemu/106"
    assert provider._has_snapshots(record(collected(provider)[vm])) == (  # type: ignore[attr-defined]
        False, "the guest has no snapshots (as of the last collection)",
    )  # fmt: skip
    # A running VM's RAM is kept, as PVE's own dialog does.
    assert run(provider, "snapshot_create", vm, name="clean", description="as deployed") == {
        "changed": True, "ems_ref": vm, "snapshot": "clean", "memory": True,
    }  # fmt: skip
    with pytest.raises(InvalidParameter, match=r"params\.name: qemu/106 has 'clean'"):
        run(provider, "snapshot_create", vm, name="clean")
    with pytest.raises(InvalidParameter, match=r"params\.name: invalid format"):
        run(provider, "snapshot_create", vm, name="1 bad name")
    run(provider, "power_off", vm)
    pve.client().nodes("pve1").qemu(106).config.put(memory=4096, cores=4)
    changed = collected(provider)[vm]
    assert (changed.memory_mb, changed.cpu_count, changed.state) == (4096, 4, "stopped")
    assert changed.properties["snapshots"] == ["clean"]
    assert changed.properties["snapshot_count"] == 1
    assert changed.properties["snapshot_parent"] == "clean"
    assert provider._has_snapshots(record(changed)) == (True, "")  # type: ignore[attr-defined]

    reverted = run(provider, "snapshot_revert", vm, snapshot="clean", start=True)

    assert reverted == {"changed": True, "ems_ref": vm, "reverted_to": "clean", "started": True}
    restored = collected(provider)[vm]
    assert (restored.memory_mb, restored.cpu_count, restored.state) == (2048, 2, "running")
    run(provider, "power_off", vm)
    run(provider, "snapshot_create", vm, name="second")
    pve.client().nodes("pve1").qemu(106).config.put(memory=512)
    # Chatsubo's reset: back to the snapshot the current state comes from, not the oldest.
    assert run(provider, "rollback", vm)["reverted_to"] == "second"
    after = collected(provider)[vm]
    assert (after.memory_mb, after.state) == (2048, "stopped")
    listed = run(provider, "snapshot_list", vm)
    assert [s["includes_memory"] for s in listed] == [True, False]
    assert [(s["name"], s["description"], s["current"]) for s in listed] == [
        ("clean", "as deployed", False), ("second", "", True),
    ]  # fmt: skip
    with pytest.raises(InvalidParameter, match=r"no snapshot 'gone' \(it has: clean, second\)"):
        run(provider, "snapshot_revert", vm, snapshot="gone")
    assert run(provider, "snapshot_delete", vm, snapshot="second")["deleted"] == "second"
    with pytest.raises(InvalidParameter, match=r"params\.snapshot"):
        run(provider, "snapshot_delete", vm, snapshot="second")
    assert collected(provider)[vm].properties["snapshots"] == ["clean"]
    with pytest.raises(NotFound, match="qemu/107 has no snapshot to roll back to"):
        run(provider, "rollback", "qemu/107")
    with pytest.raises(Unsupported, match="template"):
        run(provider, "snapshot_create", "qemu/9000", name="x")


def test_describe_then_delete_a_running_guest(provider: BaseProvider) -> None:
    described = run(provider, "describe", "qemu/107")
    assert (described["ems_ref"], described["name"], described["state"]) == (
        "qemu/107", "vm-107", "running",
    )  # fmt: skip

    assert run(provider, "delete", "qemu/107") == {
        "changed": True, "deleted": "qemu/107", "stopped_first": True,
    }  # fmt: skip

    assert "qemu/107" not in collected(provider)
    with pytest.raises(NotFound):
        run(provider, "delete", "qemu/107")


def test_a_clone_is_a_new_guest_with_its_relationships(provider: BaseProvider) -> None:
    made = run(provider, "clone", "qemu/108", name="copy-of-108")

    assert (made["changed"], made["name"], made["node"], made["mode"]) == (
        True, "copy-of-108", "pve1", "full",
    )  # fmt: skip
    clone = collected(provider)[made["ems_ref"]]
    assert (clone.name, clone.state, clone.resource_type_slug) == (
        "copy-of-108", "stopped", "virtual_machine",
    )  # fmt: skip
    assert {(r["target_ems_ref"], r["relationship_type"]) for r in clone.relationships} == {
        ("node/pve1", "runs_on"), ("storage/pve1/local-lvm", "attached_to"),
    }  # fmt: skip
    with pytest.raises(InvalidParameter, match=r"params\.mode: a linked clone needs a template"):
        run(provider, "clone", "qemu/108", name="linked", mode="linked")
    with pytest.raises(InvalidParameter, match=r"params\.name: invalid format"):
        run(provider, "clone", "qemu/108", name="not a dns name!")


def test_an_instance_of_a_template_carries_chatsubo_labels_into_the_inventory(
    provider: BaseProvider,
) -> None:
    templates = run(provider, "template_list", None)
    assert [(t["ems_ref"], t["name"], t["template"]) for t in templates] == [
        ("qemu/9000", "tpl-web", "web-easy"),
    ]  # fmt: skip

    made = run(provider, "instance_create", None, template="web-easy", name="ctf-1",
               realm="blue", labels={"address": "10.66.0.12", "creds.password": "hunter2"})  # fmt: skip
    linked = run(provider, "instance_create", None, template="9000", name="ctf-2", mode="linked")

    assert made["template"] == "qemu/9000"
    assert made["labels"] == {"chatsubo.address": "10.66.0.12", "chatsubo.creds.password": "***",
                              "chatsubo.template": "web-easy", "chatsubo.realm": "blue"}  # fmt: skip
    assert "hunter2" not in repr(made)
    found = collected(provider)
    instance, second = found[made["ems_ref"]], found[linked["ems_ref"]]
    assert instance.properties["chatsubo"] == {
        "template": "web-easy", "realm": "blue", "address": "10.66.0.12",
        "flags": {"flag": "F{1}"}, "creds": {"password": "***"},
    }  # fmt: skip
    assert instance.provider_tags["chatsubo.realm"] == "blue"
    assert "10.66.0.12" in instance.ip_addresses
    assert instance.description is not None and instance.description.count("chatsubo.realm") == 1
    assert "hunter2" not in instance.description
    assert second.properties["chatsubo"]["realm"] == "none"  # the template's, kept
    assert (second.name, second.resource_type_slug) == ("ctf-2", "virtual_machine")
    unknown = r"params\.template: no template 'nope' \(the templates: web-easy\)"
    with pytest.raises(InvalidParameter, match=unknown):
        run(provider, "instance_create", None, template="nope", name="x")
    with pytest.raises(InvalidParameter, match=r"params\.labels"):
        run(provider, "instance_create", None, template="web-easy", name="x", labels={"a=b": "c"})


def test_an_action_with_a_wrong_password_is_unauthenticated_without_it(
    fakepve: FakePve, pve_class: type[BaseProvider], tmp_path: Path
) -> None:
    config = {"username": fakepve.user, "password": "not-the-password", "port": fakepve.port,
              "verify_ssl": False}  # fmt: skip
    provider = make_provider(pve_class, endpoint=fakepve.host, connection_config=config)

    with pytest.raises(Unauthenticated) as refused:
        run(provider, "power_off", "qemu/101")

    assert "not-the-password" not in str(refused.value)
    assert isinstance(refused.value, ProviderError)


def test_an_action_polls_a_task_that_takes_time_and_a_shutdown_past_its_timeout_fails(
    tmp_path: Path, pve_class: type[BaseProvider]
) -> None:
    slow = [{**vm, "timings": {"shutdown_secs": 10}} for vm in guests(3)]
    # 1 PVE second = 0.05 s: the guests take 0.5 s to shut down.
    with running_fakepve(tmp_path, slow, time_scale=0.05) as fake:
        config = {"username": fake.user, "password": fake.password, "port": fake.port,
                  "verify_ssl": False}  # fmt: skip
        provider = make_provider(pve_class, endpoint=fake.host, connection_config=config)
        done = run(provider, "shutdown", "qemu/101", timeout=30)
        stopped = fake.client().nodes("pve2").qemu(101).status.current.get()["status"]
        with pytest.raises(ProviderTimeout, match=r"qemu/102 did not power off within 2 s"):
            run(provider, "shutdown", "qemu/102", timeout=2)
        still = fake.client().nodes("pve1").qemu(102).status.current.get()["status"]

    assert (done["changed"], stopped, still) == (True, "stopped", "running")
