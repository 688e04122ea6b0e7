"""A domain's lifecycle (core profile) and its snapshots (snapshot profile).

Each action looks the domain up by its UUID (the resource's ems_ref), calls libvirt
once or twice and answers what changed; the next collection shows it. ``power_on`` of
a running domain, ``power_off`` and ``shutdown`` of a stopped one succeed and change
nothing (``"changed": false``). Snapshots are libvirt's own (``virDomainSnapshot``):
``rollback`` reverts to the domain's current snapshot (the one libvirt's next snapshot
would be the child of), or to the newest when libvirt marks none current.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import libvirt

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound, ProviderTimeout

from .domains import state_of
from .session import Session, word_of

VM = ["virtual_machine"]
_RUNNING = frozenset({1, 2})  # running, blocked
_UNDEFINE = (
    libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
)
_POLL = 0.2


class DomainActions(Session):
    """The core and snapshot profiles; mixed into the provider."""

    canceled: bool

    # -- core --------------------------------------------------------------------------

    @action("power_on", applies_to=VM, profile="core", idempotent=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Start the domain (resume it when paused); nothing changes when it runs."""
        with self._session("power_on") as connection:
            domain = self._domain(connection, ems_ref)
            code, before = domain.state()[0], word_of(domain)
            if code in _RUNNING or code == 4:  # running, blocked, shutting down
                return {"changed": False, "state": before}
            if code == 3:
                domain.resume()
            elif code == 7:
                domain.pMWakeup(0)
            else:
                if domain.isActive():  # crashed but still there
                    domain.destroy()
                domain.create()
            return {"changed": True, "before": before, "state": word_of(domain)}

    @action("power_off", applies_to=VM, profile="core", idempotent=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Cut the domain's power (``virDomainDestroy``); nothing changes when it is off."""
        with self._session("power_off") as connection:
            domain = self._domain(connection, ems_ref)
            before = word_of(domain)
            if not domain.isActive():
                return {"changed": False, "state": before}
            domain.destroy()
            return {"changed": True, "before": before, "state": _after_stop(domain)}

    @action(
        "shutdown",
        applies_to=VM,
        profile="core",
        idempotent=True,
        cancelable=True,
        params=[Param("timeout", "integer", default=300, description="seconds to wait")],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the guest to shut down (ACPI) and wait up to ``timeout`` seconds for it
        to stop; 0 asks and does not wait."""
        timeout = params["timeout"]
        if timeout < 0:
            raise InvalidParameter("shutdown: params.timeout: must be >= 0 seconds")
        with self._session("shutdown") as connection:
            domain = self._domain(connection, ems_ref)
            before = word_of(domain)
            if not domain.isActive():
                return {"changed": False, "state": before}
            domain.shutdown()
            deadline = time.monotonic() + timeout
            while domain.isActive() and timeout and time.monotonic() < deadline:
                if self.canceled:
                    return {"changed": True, "before": before, "state": word_of(domain)}
                time.sleep(_POLL)
            if domain.isActive() and timeout:
                raise ProviderTimeout(
                    f"shutdown: {domain.name()} is still {word_of(domain)} after {timeout} s: "
                    "the guest did not stop (does it handle ACPI?); power_off cuts the power"
                )
            return {"changed": True, "before": before, "state": _after_stop(domain)}

    @action("reboot", applies_to=VM, profile="core", available="_when_running")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask a running guest to restart."""
        with self._session("reboot") as connection:
            domain = self._domain(connection, ems_ref)
            if domain.state()[0] not in _RUNNING:
                raise InvalidParameter(
                    f"reboot: {domain.name()} is {word_of(domain)}, not running; power_on starts it"
                )
            domain.reboot(0)
            return {"rebooted": ems_ref, "state": word_of(domain)}

    @action("describe", applies_to=VM, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The domain as libvirt sees it now: state, size, devices, snapshots."""
        with self._session("describe") as connection:
            domain = self._domain(connection, ems_ref)
            root = ET.fromstring(domain.XMLDesc(0))
            code, _reason = domain.state()
            state, word = state_of(code)
            snapshots = self._snapshot_records(domain)
            _max_kib, memory_kib, _now_kib, vcpus, _cpu_time = domain.info()
            return {
                "uuid": domain.UUIDString(),
                "name": domain.name(),
                "state": state,
                "power_state": word,
                "persistent": bool(domain.isPersistent()),
                "autostart": bool(domain.autostart()) if domain.isPersistent() else False,
                "cpu_count": vcpus,
                "memory_mb": memory_kib // 1024,
                "disks": [
                    d.get("file") or d.get("dev") for d in root.iterfind("devices/disk/source")
                ],
                "mac_addresses": [m.get("address") for m in root.iterfind("devices/interface/mac")],
                "snapshots": [s["name"] for s in snapshots],
                "current_snapshot": next((s["name"] for s in snapshots if s["current"]), None),
            }

    @action("delete", applies_to=VM, profile="core", available="_when_stopped")
    def delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Undefine a stopped domain (with its snapshots' metadata); its disks are kept."""
        with self._session("delete") as connection:
            domain = self._domain(connection, ems_ref)
            name = domain.name()
            if domain.isActive():
                raise InvalidParameter(
                    f"delete: {name} is {word_of(domain)}: power it off or shut it down first"
                )
            root = ET.fromstring(domain.XMLDesc(0))
            kept = [s.get("file") or s.get("dev") for s in root.iterfind("devices/disk/source")]
            domain.undefineFlags(_UNDEFINE)
            return {"deleted": ems_ref, "name": name, "disks_kept": [d for d in kept if d]}

    # -- snapshot ----------------------------------------------------------------------

    @action(
        "snapshot_create",
        applies_to=VM,
        profile="snapshot",
        params=[Param("name", required=True), Param("description")],
    )
    def snapshot_create(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Take a snapshot (libvirt's default kind for the domain: internal on qcow2)."""
        name = params["name"]
        if not name.strip():
            raise InvalidParameter("snapshot_create: params.name: must not be empty")
        document = ET.Element("domainsnapshot")
        ET.SubElement(document, "name").text = name
        if params.get("description"):
            ET.SubElement(document, "description").text = params["description"]
        with self._session("snapshot_create") as connection:
            domain = self._domain(connection, ems_ref)
            if name in domain.snapshotListNames(0):
                raise InvalidParameter(
                    f"snapshot_create: params.name: {domain.name()} has a snapshot {name!r}"
                )
            domain.snapshotCreateXML(ET.tostring(document, encoding="unicode"), 0)
            return {"snapshot": name, "state": word_of(domain)}

    @action("snapshot_list", applies_to=VM, profile="snapshot", idempotent=True)
    def snapshot_list(self, ems_ref: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The domain's snapshots, parents before children."""
        with self._session("snapshot_list") as connection:
            return self._snapshot_records(self._domain(connection, ems_ref))

    @action(
        "snapshot_revert",
        applies_to=VM,
        profile="snapshot",
        available="_when_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_revert(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Bring the domain back to a snapshot: its disks, and its state then."""
        with self._session("snapshot_revert") as connection:
            domain = self._domain(connection, ems_ref)
            return _revert(domain, _snapshot(domain, params["snapshot"], "snapshot_revert"))

    @action(
        "snapshot_delete",
        applies_to=VM,
        profile="snapshot",
        available="_when_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete one snapshot (its children are kept, re-parented)."""
        with self._session("snapshot_delete") as connection:
            domain = self._domain(connection, ems_ref)
            _snapshot(domain, params["snapshot"], "snapshot_delete").delete(0)
            return {"deleted": params["snapshot"], "left": domain.snapshotNum(0)}

    @action("rollback", applies_to=VM, profile="snapshot", available="_when_snapshots")
    def rollback(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Revert to the current snapshot (else the newest): Chatsubo's reset."""
        with self._session("rollback") as connection:
            domain = self._domain(connection, ems_ref)
            records = self._snapshot_records(domain)
            if not records:
                raise NotFound(f"rollback: {domain.name()} has no snapshot to roll back to")
            current = [r for r in records if r["current"]]
            target = current[0] if current else max(records, key=lambda r: r["created"] or "")
            return _revert(domain, domain.snapshotLookupByName(target["name"], 0))

    @staticmethod
    def _snapshot_records(domain: libvirt.virDomain) -> list[dict[str, Any]]:
        found = domain.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
        return [_snapshot_record(snapshot) for snapshot in found]


def _after_stop(domain: libvirt.virDomain) -> str:
    """The state after the domain stopped: a transient domain is then gone."""
    try:
        return word_of(domain)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return "gone (transient)"
        raise


def _snapshot(domain: libvirt.virDomain, name: str, action: str) -> libvirt.virDomainSnapshot:
    try:
        return domain.snapshotLookupByName(name, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise
    found = domain.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
    names = ", ".join(snapshot.getName() for snapshot in found) or "none"
    raise InvalidParameter(
        f"{action}: params.snapshot: {domain.name()} has no snapshot {name!r} (it has: {names})"
    )


def _revert(domain: libvirt.virDomain, snapshot: libvirt.virDomainSnapshot) -> dict[str, Any]:
    before = word_of(domain)
    domain.revertToSnapshot(snapshot, 0)
    return {"reverted_to": snapshot.getName(), "before": before, "state": word_of(domain)}


def _snapshot_record(snapshot: libvirt.virDomainSnapshot) -> dict[str, Any]:
    root = ET.fromstring(snapshot.getXMLDesc(0))
    created = root.findtext("creationTime")
    return {
        "name": snapshot.getName(),
        "description": root.findtext("description") or "",
        "state": root.findtext("state"),
        "created": (datetime.fromtimestamp(int(created), UTC).isoformat() if created else None),
        "parent": root.findtext("parent/name"),
        "current": bool(snapshot.isCurrent(0)),
    }
