"""The snapshot profile on vCenter: take, list, revert to, delete a VM's snapshots; roll back.

A snapshot is named by its name (unique per VM: ``snapshot_create`` refuses a second
one of a name) or by its id (``snapshot-42``). A running VM's snapshot keeps its memory,
as vSphere's own client does by default, so reverting to it brings the VM back running;
a stopped VM's brings it back stopped. Where the server reverted the disks and left the
power state as it was (vcsim does), the revert powers the VM on or off to the state the
snapshot recorded, and its result lists those tasks (``power_restored``): a revert
always ends in the snapshot's state. ``rollback`` reverts to the newest snapshot.
The collection keeps ``snapshot_count``, ``snapshots`` (names, oldest first) and
``current_snapshot`` in the VM's properties: what ``available`` reads.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound

from .inventory import snapshot_trees
from .machines import Acting, call, machine, wait

VM = ["virtual_machine"]
SNAPSHOT = ["name", "runtime.powerState", "snapshot"]


def _described(tree: Any, current: str | None) -> dict[str, Any]:
    return {
        "name": str(tree.name),
        "id": str(tree.snapshot._moId),
        "description": str(tree.description or ""),
        "created": tree.createTime.isoformat(),
        "power_state": str(tree.state),
        "current": tree.snapshot._moId == current,
    }


def _chosen(ems_ref: str, trees: list[Any], wanted: str) -> Any:
    """The snapshot named (or with the id) ``wanted``; ``NotFound`` listing the others."""
    for tree in trees:
        if wanted in (str(tree.name), str(tree.snapshot._moId)):
            return tree
    names = ", ".join(repr(str(tree.name)) for tree in trees) or "none"
    raise NotFound(f"{ems_ref} has no snapshot {wanted!r} (it has: {names})")


class SnapshotActions(Acting):
    """The snapshot profile (mixed into the provider)."""

    def _snapshots(self, ems_ref: str) -> tuple[list[Any], str | None]:
        with self._acting() as session:
            _, found = machine(session, ems_ref, SNAPSHOT)
        info = found.props.get("snapshot")
        current = getattr(getattr(info, "currentSnapshot", None), "_moId", None)
        return snapshot_trees(info), current

    @action(
        "snapshot_create",
        applies_to=VM,
        profile="snapshot",
        long_running=True,
        params=[Param("name", required=True), Param("description")],
    )
    def snapshot_create(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Take a snapshot (with the memory of a running VM)."""
        name = params["name"].strip()
        if not name or len(name) > 80:
            raise InvalidParameter("snapshot_create: params.name: 1 to 80 characters")
        with self._acting() as session:
            vm, found = machine(session, ems_ref, SNAPSHOT)
            if any(str(t.name) == name for t in snapshot_trees(found.props.get("snapshot"))):
                raise InvalidParameter(
                    f"snapshot_create: params.name: {ems_ref} has a snapshot {name!r} already"
                )
            power = str(found.props.get("runtime.powerState"))
            task = call(
                session,
                f"snapshot_create of {ems_ref}",
                vm.CreateSnapshot_Task,
                name=name,
                description=params.get("description") or "",
                memory=power == "poweredOn",
                quiesce=False,
            )
            snapshot = wait(session, task, "snapshot_create")
        return {"snapshot": name, "id": snapshot, "power_state": power}

    @action("snapshot_list", applies_to=VM, profile="snapshot", idempotent=True)
    def snapshot_list(self, ems_ref: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The VM's snapshots, oldest first; ``current`` marks the one it runs from."""
        trees, current = self._snapshots(ems_ref)
        return [_described(tree, current) for tree in trees]

    @action(
        "snapshot_revert",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        long_running=True,
        params=[Param("snapshot", required=True, description="its name or id")],
    )
    def snapshot_revert(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Bring the VM back to a snapshot."""
        return self._revert(ems_ref, params["snapshot"])

    @action(
        "snapshot_delete",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        long_running=True,
        params=[Param("snapshot", required=True, description="its name or id")],
    )
    def snapshot_delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete a snapshot (its children stay, merged onto its parent)."""
        with self._acting() as session:
            _, found = machine(session, ems_ref, SNAPSHOT)
            tree = _chosen(ems_ref, snapshot_trees(found.props.get("snapshot")), params["snapshot"])
            snapshot = vim.vm.Snapshot(str(tree.snapshot._moId), session.stub)
            task = call(
                session, f"snapshot_delete of {ems_ref}", snapshot.RemoveSnapshot_Task, False
            )
            wait(session, task, "snapshot_delete")
        return {"deleted": str(tree.name), "id": str(tree.snapshot._moId)}

    @action(
        "rollback",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        long_running=True,
    )
    def rollback(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Revert the VM to its newest snapshot (Chatsubo's reset to a clean state)."""
        trees, _ = self._snapshots(ems_ref)
        if not trees:
            raise NotFound(f"rollback: {ems_ref} has no snapshot to roll back to")
        return self._revert(ems_ref, str(trees[-1].snapshot._moId))

    def _revert(self, ems_ref: str, wanted: str) -> dict[str, Any]:
        with self._acting() as session:
            vm, found = machine(session, ems_ref, SNAPSHOT)
            tree = _chosen(ems_ref, snapshot_trees(found.props.get("snapshot")), wanted)
            snapshot = vim.vm.Snapshot(str(tree.snapshot._moId), session.stub)
            task = call(session, f"revert of {ems_ref}", snapshot.RevertToSnapshot_Task)
            wait(session, task, f"revert of {ems_ref} to {tree.name}")
            _, after = machine(session, ems_ref, SNAPSHOT)
            power = str(after.props.get("runtime.powerState"))
            result = {"reverted_to": str(tree.name), "id": str(tree.snapshot._moId)}
            if power != str(tree.state):
                steps = _power_steps(power, str(tree.state))
                for step in steps:
                    wait(session, call(session, f"{step} of {ems_ref}", getattr(vm, step)), step)
                result["power_restored"] = steps
                power = str(tree.state)
        return result | {"power_state": power}


def _power_steps(now: str, recorded: str) -> list[str]:
    """The tasks that bring a VM from power state ``now`` to ``recorded``."""
    if recorded == "poweredOff":
        return ["PowerOffVM_Task"]
    steps = [] if now == "poweredOn" else ["PowerOnVM_Task"]
    return steps + (["SuspendVM_Task"] if recorded == "suspended" else [])
