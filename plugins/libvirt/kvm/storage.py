"""Storage pools (``storage_pool``) and their volumes (``block_storage``).

A volume's ems_ref is its libvirt *key*: unique on the host and stable for the
volume's life (the file's path for directory pools, a WWN or RBD name elsewhere).
Each volume is registered in the :class:`StorageIndex` the domains' disks are matched
against, so a VM's ``attached_to`` edge points at the volume it really uses.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from inventory_providers.base import Relationship, ResourceData

from .domains import StorageIndex, size_in_bytes

# virStoragePoolState → Estate's state and libvirt's word.
POOL_STATES: dict[int, tuple[str, str]] = {
    0: ("inactive", "inactive"),
    1: ("provisioning", "building"),
    2: ("active", "running"),
    3: ("error", "degraded"),
    4: ("error", "inaccessible"),
}
GIB = 1024**3


def pool_state(code: int) -> tuple[str, str]:
    """Estate's state and libvirt's word for a ``virStoragePoolState`` code."""
    return POOL_STATES.get(code, ("unknown", f"state-{code}"))


def index_pool(pool: libvirt.virStoragePool, index: StorageIndex) -> ET.Element:
    """Register the pool where the domains' disks are matched (its name and target
    path); its definition, which is all a collection of domains alone reads of it."""
    root = ET.fromstring(pool.XMLDesc(0))
    uuid, path = pool.UUIDString(), root.findtext("target/path")
    index.pools_by_name[pool.name()] = uuid
    if path:
        index.pools_by_path[path.rstrip("/")] = uuid
    return root


def pool_resource(pool: libvirt.virStoragePool, host_ref: str, index: StorageIndex) -> ResourceData:
    """One pool from its definition and ``virStoragePoolGetInfo``."""
    root = index_pool(pool, index)
    uuid, name = pool.UUIDString(), pool.name()
    code, capacity, allocation, available = pool.info()
    state, word = pool_state(code)
    path = root.findtext("target/path")
    source = root.find("source")
    properties: dict[str, Any] = {
        "pool_type": root.get("type"),
        "target_path": path,
        "source": _source_of(source) if source is not None else None,
        "capacity_bytes": capacity,
        "allocation_bytes": allocation,
        "available_bytes": available,
        "autostart": bool(pool.autostart()),
        "persistent": bool(pool.isPersistent()),
    }
    return ResourceData(
        ems_ref=uuid,
        resource_type_slug="storage_pool",
        name=name,
        canonical_id=uuid,
        vendor_type=f"libvirt {root.get('type')} pool",
        state=state,
        power_state=word,
        disk_gb=round(capacity / GIB, 3),
        properties={k: v for k, v in properties.items() if v not in (None, {}, "")},
        relationships=[Relationship(host_ref, "part_of")],
    )


def volume_resource(
    volume: libvirt.virStorageVol, pool_name: str, pool_ref: str, index: StorageIndex
) -> ResourceData:
    """One volume from its definition (one call: path, format, capacity, allocation)."""
    root = ET.fromstring(volume.XMLDesc(0))
    key, name = volume.key(), volume.name()
    path = root.findtext("target/path")
    capacity = size_in_bytes(root.find("capacity"), "bytes") or 0
    allocation = size_in_bytes(root.find("allocation"), "bytes")
    index.volumes[key] = key
    if path:
        index.volumes[path] = key
    index.pool_volumes[(pool_name, name)] = key
    index.volume_sizes[key] = capacity
    fmt = root.find("target/format")
    properties: dict[str, Any] = {
        "pool": pool_name,
        "path": path,
        "volume_type": root.get("type"),
        "format": fmt.get("type") if fmt is not None else None,
        "capacity_bytes": capacity,
        "allocation_bytes": allocation,
        "backing_store": root.findtext("backingStore/path"),
    }
    return ResourceData(
        ems_ref=key,
        resource_type_slug="block_storage",
        name=name,
        vendor_type="libvirt volume",
        state="active",
        disk_gb=round(capacity / GIB, 3),
        properties={k: v for k, v in properties.items() if v is not None},
        relationships=[Relationship(pool_ref, "member_of")],
    )


def _source_of(source: ET.Element) -> dict[str, str]:
    """Where a pool's storage comes from: host, device, directory or name."""
    found: dict[str, str] = {}
    host = source.find("host")
    if host is not None and host.get("name"):
        found["host"] = host.get("name", "")
    for tag in ("device", "dir", "adapter"):
        element = source.find(tag)
        value = (element.get("path") or element.get("name")) if element is not None else None
        if value:
            found[tag] = value
    if source.findtext("name"):
        found["name"] = source.findtext("name", "")
    return found
