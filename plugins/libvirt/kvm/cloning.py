"""New domains: ``clone`` of a stopped domain (clone profile), ``create`` of a blank one.

A clone is what ``virt-clone`` makes: the source's definition under a new name, with
no UUID and no MAC addresses (libvirt gives fresh ones) and its own copy of every
writable disk. Disks must be volumes of a storage pool, which is how libvirt copies
them (``virStorageVolCreateXMLFrom``: on a real host a full copy, made on the host);
read-only and shareable disks (CD-ROMs, shared data) stay shared. ``mode=linked``
makes each copy a qcow2 overlay whose backing store is the source volume instead,
which only file-based pools (``dir``, ``fs``, ``netfs``) can hold; elsewhere it is
refused. A clone that fails half-way deletes the volumes it made.

There are no templates: libvirt has no notion of one, so the plugin offers no
``template_list`` or ``instance_create``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter

from .session import Session, word_of

VM = ["virtual_machine"]
OVERLAY_POOLS = frozenset({"dir", "fs", "netfs"})
_DEFINITION = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE


@dataclass
class DiskCopy:
    """One writable disk of the source and the volume its copy will be."""

    element: ET.Element  # the clone's <disk>, rewritten once the volume exists
    target: str
    pool: libvirt.virStoragePool
    volume: libvirt.virStorageVol
    new_name: str


class DomainCopies(Session):
    """``clone`` and ``create``; mixed into the provider."""

    @action(
        "clone",
        applies_to=VM,
        profile="clone",
        available="_when_stopped",
        params=[
            Param("name", required=True, description="the new domain's name"),
            Param("mode", default="full", choices=("full", "linked")),
        ],
    )
    def clone(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Copy a stopped domain and its disks into a new, stopped domain."""
        name, mode = params["name"], params["mode"]
        with self._session("clone") as connection:
            source = self._domain(connection, ems_ref)
            if source.isActive():
                raise InvalidParameter(
                    f"clone: {source.name()} is {word_of(source)}: power it off or shut it "
                    "down first (a running domain's disks are not consistent)"
                )
            _check_free(connection, name, "clone")
            root = ET.fromstring(source.XMLDesc(_DEFINITION))
            copies = _plan(connection, root, name, mode)
            made: list[libvirt.virStorageVol] = []
            try:
                for copy in copies:
                    made.append(_copy_volume(copy, mode))
                    _point_at(copy.element, made[-1], copy.pool)
                _rename(root, name)
                clone = connection.defineXML(ET.tostring(root, encoding="unicode"))
            except BaseException:
                for volume in made:
                    volume.delete(0)
                raise
            return {
                "ems_ref": clone.UUIDString(),
                "name": name,
                "mode": mode,
                "volumes": [volume.path() for volume in made],
            }

    @action(
        "create",
        applies_to="provider",
        profile="core",
        params=[
            Param("name", required=True, description="the new domain's name"),
            Param("cpu", "integer", default=1, description="vCPUs"),
            Param("memory_mb", "integer", default=1024, description="memory in MiB"),
        ],
    )
    def create(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """Define a new, stopped domain without disks (it boots from the network)."""
        for field in ("cpu", "memory_mb"):
            if params[field] < 1:
                raise InvalidParameter(f"create: params.{field}: must be >= 1")
        with self._session("create") as connection:
            _check_free(connection, params["name"], "create")
            kind, arch = _guest_of(connection.getCapabilities())
            root = ET.Element("domain", type=kind)
            ET.SubElement(root, "name").text = params["name"]
            ET.SubElement(root, "memory", unit="MiB").text = str(params["memory_mb"])
            ET.SubElement(root, "vcpu").text = str(params["cpu"])
            os_element = ET.SubElement(root, "os")
            ET.SubElement(os_element, "type", arch=arch).text = "hvm"
            ET.SubElement(os_element, "boot", dev="network")
            ET.SubElement(root, "devices")
            domain = connection.defineXML(ET.tostring(root, encoding="unicode"))
            return {"ems_ref": domain.UUIDString(), "name": params["name"], "state": "shutoff"}


def _check_free(connection: libvirt.virConnect, name: str, action: str) -> None:
    if not name.strip():
        raise InvalidParameter(f"{action}: params.name: must not be empty")
    try:
        connection.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return
        raise
    raise InvalidParameter(f"{action}: params.name: a domain named {name!r} exists")


def _guest_of(capabilities: str) -> tuple[str, str]:
    """``(domain type, arch)`` of the host's first hvm guest: ``kvm`` where it has one."""
    root = ET.fromstring(capabilities)
    for guest in root.iterfind("guest"):
        if guest.findtext("os_type") != "hvm":
            continue
        arch = guest.find("arch")
        if arch is None:
            continue
        kinds = [d.get("type", "") for d in arch.iterfind("domain")]
        kind = "kvm" if "kvm" in kinds else (kinds[0] if kinds else "")
        if kind:
            return kind, arch.get("name", "x86_64")
    raise InvalidParameter("create: the host offers no hvm guest (see its capabilities)")


def _plan(connection: libvirt.virConnect, root: ET.Element, name: str, mode: str) -> list[DiskCopy]:
    """Every writable disk's volume and pool, checked before anything is made."""
    copies = []
    for element in root.iterfind("devices/disk"):
        if element.get("device", "disk") not in ("disk", "lun"):
            continue
        if element.find("readonly") is not None or element.find("shareable") is not None:
            continue
        source = element.find("source")
        if source is None:
            continue
        found = element.find("target")
        target = found.get("dev", "disk") if found is not None else "disk"
        volume = _volume_of(connection, source, target)
        pool = volume.storagePoolLookupByVolume()
        if mode == "linked":
            kind = ET.fromstring(pool.XMLDesc(0)).get("type", "")
            if kind not in OVERLAY_POOLS:
                raise InvalidParameter(
                    f"clone: params.mode: linked needs qcow2 overlays, which pool {pool.name()} "
                    f"(type {kind}) holding disk {target} cannot hold; use mode=full"
                )
        suffix = volume.name().rpartition(".")[2] if "." in volume.name() else ""
        new_name = f"{name}-{target}" + (f".{suffix}" if suffix else "")
        copies.append(DiskCopy(element, target, pool, volume, new_name))
    return copies


def _volume_of(
    connection: libvirt.virConnect, source: ET.Element, target: str
) -> libvirt.virStorageVol:
    try:
        if source.get("pool") and source.get("volume"):
            pool = connection.storagePoolLookupByName(source.get("pool"))
            return pool.storageVolLookupByName(source.get("volume"))
        path = source.get("file") or source.get("dev")
        if path:
            return connection.storageVolLookupByPath(path)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (
            libvirt.VIR_ERR_NO_STORAGE_VOL,
            libvirt.VIR_ERR_NO_STORAGE_POOL,
        ):
            raise
    where = source.get("file") or source.get("dev") or source.get("name") or "?"
    raise InvalidParameter(
        f"clone: disk {target} ({where}) is no volume of a storage pool, so libvirt cannot "
        "copy it; put it in a pool (or detach it) first"
    )


def _copy_volume(copy: DiskCopy, mode: str) -> libvirt.virStorageVol:
    source = ET.fromstring(copy.volume.XMLDesc(0))
    capacity = source.find("capacity")
    fmt = source.find("target/format")
    volume = ET.Element("volume")
    ET.SubElement(volume, "name").text = copy.new_name
    ET.SubElement(volume, "capacity", unit="bytes").text = str(
        capacity.text if capacity is not None else copy.volume.info()[1]
    )
    target = ET.SubElement(volume, "target")
    if mode == "full":
        if fmt is not None:
            ET.SubElement(target, "format", type=fmt.get("type", "raw"))
        document = ET.tostring(volume, encoding="unicode")
        return copy.pool.createXMLFrom(document, copy.volume, 0)
    ET.SubElement(volume, "allocation").text = "0"
    ET.SubElement(target, "format", type="qcow2")
    backing = ET.SubElement(volume, "backingStore")
    ET.SubElement(backing, "path").text = copy.volume.path()
    ET.SubElement(backing, "format", type=fmt.get("type", "raw") if fmt is not None else "raw")
    return copy.pool.createXML(ET.tostring(volume, encoding="unicode"), 0)


def _point_at(
    element: ET.Element, volume: libvirt.virStorageVol, pool: libvirt.virStoragePool
) -> None:
    """Make the clone's ``<disk>`` use the new volume (by pool and name, or by path)."""
    source = element.find("source")
    assert source is not None  # _plan kept only disks with a source
    if source.get("pool"):
        source.set("pool", pool.name())
        source.set("volume", volume.name())
    else:
        source.set("file" if source.get("file") else "dev", volume.path())
    driver = element.find("driver")
    fmt = ET.fromstring(volume.XMLDesc(0)).find("target/format")
    if driver is not None and fmt is not None and fmt.get("type"):
        driver.set("type", fmt.get("type", ""))


def _rename(root: ET.Element, name: str) -> None:
    """The clone's identity: its name; no UUID and no MACs, so libvirt makes new ones."""
    root.find("name").text = name  # type: ignore[union-attr]
    for element in root.findall("uuid"):
        root.remove(element)
    for interface in root.iterfind("devices/interface"):
        for mac in interface.findall("mac"):
            interface.remove(mac)
    os_element = root.find("os")
    if os_element is not None:
        for nvram in os_element.findall("nvram"):  # a fresh UEFI store from its template
            os_element.remove(nvram)
