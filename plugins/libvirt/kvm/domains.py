"""libvirt domains as ``virtual_machine`` resources: their XML, their state, their edges.

A domain's definition (``virDomainGetXMLDesc``) holds everything an inventory keeps
about it: vCPUs, memory, disks and NICs with their MACs. Its state comes in bulk from
``virConnectGetAllDomainStats`` (one call for every domain); only what changes when
a VM merely runs (the live ``id``, tap device names, balloon figures) is left out, so
an idle VM's record stays byte-for-byte the same from one collection to the next.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inventory_providers.base import Relationship, ResourceData

# virDomainState → (Estate's state, libvirt's own word, kept as power_state).
STATES: dict[int, tuple[str, str]] = {
    0: ("unknown", "nostate"),
    1: ("running", "running"),
    2: ("running", "blocked"),  # running, waiting on a resource
    3: ("suspended", "paused"),
    4: ("running", "shutdown"),  # still running, shutting down
    5: ("stopped", "shutoff"),
    6: ("error", "crashed"),
    7: ("suspended", "pmsuspended"),  # suspended by the guest's power management
}
_UNITS = {
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "k": 1024,
    "kib": 1024,
    "mb": 1000**2,
    "m": 1024**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "g": 1024**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "t": 1024**4,
    "tib": 1024**4,
}


def state_of(code: int) -> tuple[str, str]:
    """Estate's state and libvirt's word for a ``virDomainState`` code."""
    return STATES.get(code, ("unknown", f"state-{code}"))


def size_in_bytes(element: ET.Element | None, default_unit: str = "KiB") -> int | None:
    """A libvirt scaled integer (``<memory unit='KiB'>``) in bytes."""
    if element is None or not (element.text or "").strip():
        return None
    unit = (element.get("unit") or default_unit).lower()
    return int(element.text.strip()) * _UNITS.get(unit, 1)  # type: ignore[union-attr]


@dataclass
class StorageIndex:
    """What the domains' disks are matched against: volumes by key, path and
    (pool, name); pools by name and target path. Filled while storage is collected."""

    volumes: dict[str, str] = field(default_factory=dict)  # key or path → volume ems_ref
    volume_sizes: dict[str, int] = field(default_factory=dict)  # volume ems_ref → bytes
    pool_volumes: dict[tuple[str, str], str] = field(default_factory=dict)
    pools_by_name: dict[str, str] = field(default_factory=dict)
    pools_by_path: dict[str, str] = field(default_factory=dict)

    def target_of(self, disk: Mapping[str, str]) -> str | None:
        """The ems_ref of the volume (or else the pool) a disk lives on, if known."""
        source = disk.get("source", "")
        if disk.get("pool"):
            found = self.pool_volumes.get((disk["pool"], source))
            return found or self.pools_by_name.get(disk["pool"])
        if source in self.volumes:
            return self.volumes[source]
        folder = source.rpartition("/")[0]
        return self.pools_by_path.get(folder) if folder else None


def domain_resource(
    xml: str,
    state_code: int,
    *,
    host_ref: str,
    networks: Mapping[str, str],
    storage: StorageIndex,
    leases: Mapping[str, list[str]],
    flags: Mapping[str, Any],
) -> ResourceData:
    """One domain's definition and state as a ``virtual_machine``."""
    root = ET.fromstring(xml)
    uuid = root.findtext("uuid", "")
    state, word = state_of(state_code)
    disks = [_disk(d) for d in root.iterfind("devices/disk")]
    nics = [_nic(n) for n in root.iterfind("devices/interface")]
    # (target, type) → edge: two disks in one pool or two NICs on one network are one edge.
    edges = {(host_ref, "runs_on"): Relationship(host_ref, "runs_on")}
    disk_bytes = 0
    for disk in disks:
        target = storage.target_of(disk)
        if target is not None:
            edges.setdefault((target, "attached_to"), Relationship(target, "attached_to"))
            if disk["device"] == "disk":
                disk_bytes += storage.volume_sizes.get(target, 0)
    for nic in nics:
        network = networks.get(nic.get("network", ""))
        if network is not None:
            edges.setdefault((network, "connected_to"), Relationship(network, "connected_to"))
    relationships: list[Relationship | dict[str, str]] = list(edges.values())
    macs = [nic["mac"] for nic in nics if nic.get("mac")]
    memory = size_in_bytes(root.find("memory"))
    current = size_in_bytes(root.find("currentMemory"))
    vcpu = root.find("vcpu")
    os_type = root.find("os/type")
    properties: dict[str, Any] = {
        "domain_type": root.get("type"),
        "os_type": os_type.text if os_type is not None else None,
        "arch": os_type.get("arch") if os_type is not None else None,
        "machine": os_type.get("machine") if os_type is not None else None,
        "max_vcpus": int(vcpu.text) if vcpu is not None and vcpu.text else None,
        "current_memory_mb": current // 1024**2 if current is not None else None,
        "disks": disks,
        "interfaces": nics,
        **flags,
    }
    libosinfo = _libosinfo(root)
    if libosinfo:
        properties["libosinfo"] = libosinfo
    return ResourceData(
        ems_ref=uuid,
        resource_type_slug="virtual_machine",
        name=root.findtext("name"),
        description=root.findtext("title") or root.findtext("description") or None,
        canonical_id=uuid,
        vendor_type=f"libvirt {root.get('type') or ''} domain".replace("  ", " "),
        state=state,
        power_state=word,
        cpu_count=_vcpus(vcpu),
        memory_mb=memory // 1024**2 if memory is not None else None,
        disk_gb=round(disk_bytes / 1024**3, 3) if disk_bytes else None,
        mac_addresses=macs,
        ip_addresses=[ip for mac in macs for ip in leases.get(mac.lower(), [])],
        os_name=libosinfo,
        properties={k: v for k, v in properties.items() if v is not None},
        relationships=relationships,
    )


def _vcpus(vcpu: ET.Element | None) -> int | None:
    if vcpu is None or not vcpu.text:
        return None
    return int(vcpu.get("current") or vcpu.text)


def _disk(element: ET.Element) -> dict[str, str]:
    source = element.find("source")
    found: dict[str, str] = {
        "device": element.get("device", "disk"),
        "type": element.get("type", ""),
    }
    if source is not None:
        for attribute in ("file", "dev", "dir", "name", "volume"):
            if source.get(attribute):
                found["source"] = source.get(attribute, "")
                break
        if source.get("pool"):
            found["pool"] = source.get("pool", "")
        if source.get("protocol"):
            found["protocol"] = source.get("protocol", "")
    target = element.find("target")
    if target is not None:
        found["target"] = target.get("dev", "")
        if target.get("bus"):
            found["bus"] = target.get("bus", "")
    driver = element.find("driver")
    if driver is not None and driver.get("type"):
        found["format"] = driver.get("type", "")
    return found


def _nic(element: ET.Element) -> dict[str, str]:
    found = {"type": element.get("type", "")}
    source = element.find("source")
    if source is not None:
        for attribute in ("network", "bridge", "dev"):
            if source.get(attribute):
                found[attribute] = source.get(attribute, "")
    mac = element.find("mac")
    if mac is not None and mac.get("address"):
        found["mac"] = mac.get("address", "").lower()
    model = element.find("model")
    if model is not None and model.get("type"):
        found["model"] = model.get("type", "")
    return found


def _libosinfo(root: ET.Element) -> str | None:
    """The guest OS that virt-install recorded (``<libosinfo:os id='…/ubuntu/22.04'/>``)."""
    for element in root.iterfind("metadata/*/*"):
        if element.tag.endswith("}os") and element.get("id"):
            return element.get("id")
    return None
