"""The snapshot profile on PVE guests, with Chatsubo's reset as ``rollback``.

``/nodes/N/{qemu,lxc}/ID/snapshot`` lists a guest's snapshots and, as ``current``,
where the guest is now: its ``parent`` is the snapshot the current state comes from.
Chatsubo resets a challenge instance by rolling back to that parent (seed 003); so
does ``rollback``, or to the newest snapshot when the current state has no parent.
A snapshot of a running VM keeps its RAM unless ``include_memory`` is false (as PVE's
own dialog does), and a rollback to it brings the VM back running; to a snapshot
without RAM it leaves the guest stopped, unless ``start`` is given. Snapshot names are PVE's configuration ids (a letter, then letters, digits,
``-`` and ``_``); PVE refuses others, and the error names ``params.name``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from proxmoxer import ProxmoxAPI

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound, Unsupported

from . import guests, mapping
from .guests import ActionSession, Guest, TaskFailed
from .settings import Settings

VM = ["virtual_machine"]
START = Param("start", "boolean", default=False, description="start the guest after it")
MEMORY = Param("include_memory", "boolean", description="keep the RAM (default: a running VM's)")


class SnapshotActions(ActionSession):
    """Mixed into the provider (``provider.py``)."""

    @action(
        "snapshot_create",
        applies_to=VM,
        profile="snapshot",
        long_running=True,
        params=[Param("name", required=True), Param("description"), MEMORY],
    )
    def snapshot_create(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Take a snapshot of the guest's disks and configuration (and a running VM's RAM)."""
        name = params["name"]
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            if guest.is_template:
                raise Unsupported(f"snapshot_create: {ems_ref} is a template; PVE snapshots none")
            if name in _names(api, settings, guest, "snapshot_create"):
                raise InvalidParameter(f"snapshot_create: params.name: {ems_ref} has {name!r}")
            memory = params.get("include_memory")
            if memory is None:  # as PVE's own dialog: a running VM's RAM is kept
                memory = guest.kind == "qemu" and guest.status == "running"
            if memory and guest.kind != "qemu":
                raise InvalidParameter(
                    "snapshot_create: params.include_memory: PVE keeps no RAM of a container"
                )
            body = {"snapname": name, **_optional(description=params.get("description"))}
            body.update(_optional(vmstate=1 if memory else None))
            try:
                _task(api, settings, guest, "snapshot_create", guest.path(api).snapshot.post, body)
            except TaskFailed as exc:
                if "not available" in exc.reason:
                    raise Unsupported(
                        f"snapshot_create: {ems_ref}: a disk's storage cannot snapshot "
                        f"({exc.reason})"
                    ) from exc
                raise
            return {"changed": True, "ems_ref": ems_ref, "snapshot": name, "memory": memory}

    @action("snapshot_list", applies_to=VM, profile="snapshot", idempotent=True)
    def snapshot_list(self, ems_ref: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The guest's snapshots, oldest first; ``current`` marks the rollback target."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            listed = _listed(api, settings, guest, "snapshot_list")
        parent = next((s.get("parent") for s in listed if s.get("name") == "current"), None)
        by_name = {s["name"]: s for s in listed if s.get("name") != "current"}
        return [_shown(by_name[name], name == parent) for name in mapping.snapshot_names(listed)]

    @action(
        "snapshot_revert",
        applies_to=VM,
        profile="snapshot",
        long_running=True,
        available="_has_snapshots",
        params=[Param("snapshot", required=True), START],
    )
    def snapshot_revert(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Bring the guest back to a snapshot (its disks, configuration, RAM if kept)."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            listed = _listed(api, settings, guest, "snapshot_revert")
            _known(params["snapshot"], mapping.snapshot_names(listed), guest, "snapshot_revert")
            return _revert(api, settings, guest, listed, params["snapshot"], params["start"])

    @action(
        "snapshot_delete",
        applies_to=VM,
        profile="snapshot",
        long_running=True,
        available="_has_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete a snapshot (the guest's current state is kept)."""
        name = params["snapshot"]
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            _known(name, _names(api, settings, guest, "snapshot_delete"), guest, "snapshot_delete")
            _task(api, settings, guest, "snapshot_delete", guest.path(api).snapshot(name).delete)
            return {"changed": True, "ems_ref": ems_ref, "deleted": name}

    @action(
        "rollback",
        applies_to=VM,
        profile="snapshot",
        long_running=True,
        available="_has_snapshots",
        params=[START],
    )
    def rollback(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Reset the guest to the snapshot its current state comes from (Chatsubo's reset)."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            listed = _listed(api, settings, guest, "rollback")
            current = next((s for s in listed if s.get("name") == "current"), {})
            names = mapping.snapshot_names(listed)
            target = current.get("parent") or (names[-1] if names else None)
            if target is None:
                raise NotFound(f"rollback: {ems_ref} has no snapshot to roll back to")
            return _revert(api, settings, guest, listed, target, params["start"])


def _revert(
    api: ProxmoxAPI,
    settings: Settings,
    guest: Guest,
    listed: list[dict[str, Any]],
    name: str,
    start: bool,
) -> dict[str, Any]:
    """Roll back to ``name``; a snapshot that kept the RAM brings the guest back running
    (PVE resumes it itself; ``start`` asks it of an emulator that does not)."""
    kept_ram = any(s.get("name") == name and s.get("vmstate") for s in listed)
    start = start or kept_ram
    body = _optional(start=1 if start else None)
    rollback = guest.path(api).snapshot(name).rollback.post
    _task(api, settings, guest, "snapshot_revert", rollback, body)
    return {"changed": True, "ems_ref": guest.ems_ref, "reverted_to": name, "started": start}


def _task(
    api: ProxmoxAPI,
    settings: Settings,
    guest: Guest,
    what: str,
    call: Any,
    body: dict[str, Any] | None = None,
) -> None:
    upid = guests.request(settings, what, lambda: call(**(body or {})), {"snapname": "name"})
    guests.wait(api, settings, upid, f"{what} of {guest.ems_ref}")


def _listed(api: ProxmoxAPI, settings: Settings, guest: Guest, what: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = guests.request(settings, what, guest.path(api).snapshot.get)
    return listed


def _names(api: ProxmoxAPI, settings: Settings, guest: Guest, what: str) -> list[str]:
    return mapping.snapshot_names(_listed(api, settings, guest, what))


def _known(name: str, names: list[str], guest: Guest, what: str) -> None:
    if name not in names:
        have = ", ".join(names) or "none"
        raise InvalidParameter(
            f"{what}: params.snapshot: {guest.ems_ref} has no snapshot {name!r} (it has: {have})"
        )


def _shown(snapshot: dict[str, Any], is_parent: bool) -> dict[str, Any]:
    taken = snapshot.get("snaptime")
    return {
        "name": snapshot["name"],
        "description": str(snapshot.get("description") or ""),
        "created": datetime.fromtimestamp(int(taken), UTC).isoformat() if taken else None,
        "parent": snapshot.get("parent"),
        "includes_memory": bool(snapshot.get("vmstate")),
        "current": is_parent,
    }


def _optional(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
