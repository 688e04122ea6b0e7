"""PVE's answers as Estate resources: the cluster, nodes, storages and guests.

Every ``ems_ref`` is PVE's own resource id (``node/pve1``, ``storage/pve1/local``,
``qemu/100``, ``lxc/104``; ``cluster/<name>`` for the cluster), so a guest keeps its
record when it migrates to another node. Only values that change when the platform
changes are kept: usage figures (CPU load, memory in use, uptime) would make every
collection a modification and are left out.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from inventory_providers.base import Relationship, ResourceData

from . import labels

MIB = 1024**2
GIB = 1024**3
VENDOR_TYPES = {"qemu": "QEMU virtual machine", "lxc": "LXC container"}

# PVE's status words (qmpstatus's too) → Estate's states; the word itself is kept in
# power_state. A stopped guest locked "suspended" is hibernated (suspended to disk).
GUEST_STATES = {
    "running": "running",
    "stopped": "stopped",
    "paused": "suspended",
    "suspended": "suspended",
    "prelaunch": "provisioning",
    "unknown": "unknown",
}
PROVISIONING_LOCKS = frozenset({"create", "clone"})
NODE_STATES = {"online": "active", "offline": "unknown", "unknown": "unknown"}
STORAGE_STATES = {"available": "active", "unknown": "unknown"}

_DISK_KEYS = ("ide", "sata", "scsi", "virtio", "efidisk", "tpmstate", "unused", "rootfs", "mp")
_LINUX_CT = frozenset(
    {"debian", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo",
     "nixos", "devuan"}
)  # fmt: skip


def cluster_ref(name: str) -> str:
    return f"cluster/{name}"


def cluster(entry: dict[str, Any], version: str | None) -> ResourceData:
    """``/cluster/status``'s ``type: cluster`` entry."""
    quorate = bool(entry.get("quorate"))
    return ResourceData(
        ems_ref=cluster_ref(entry["name"]),
        resource_type_slug="cluster",
        name=entry["name"],
        vendor_type="Proxmox VE cluster",
        state="active" if quorate else "error",
        power_state="quorate" if quorate else "no quorum",
        properties=_present(
            {"nodes": entry.get("nodes"), "quorate": quorate, "config_version": entry.get("version"),
             "pve_version": version}
        ),
    )  # fmt: skip


def node(
    entry: dict[str, Any], member: dict[str, Any] | None, cluster_name: str | None
) -> ResourceData:
    """A ``/cluster/resources`` node, with its ``/cluster/status`` entry (address, id)."""
    status = str(entry.get("status") or "unknown")
    member = member or {}
    return ResourceData(
        ems_ref=entry["id"],
        resource_type_slug="hypervisor_host",
        name=entry["node"],
        vendor_type="Proxmox VE node",
        state=NODE_STATES.get(status, "unknown"),
        power_state=status,
        cpu_count=_count(entry.get("maxcpu")),
        memory_mb=_count(entry.get("maxmem"), MIB),
        disk_gb=_gib(entry.get("maxdisk")),
        ip_addresses=[member["ip"]] if member.get("ip") else [],
        os_type="hypervisor",
        os_name="Proxmox VE",
        properties=_present(
            {"node": entry["node"], "status": status, "nodeid": member.get("nodeid"),
             "subscription_level": entry.get("level") or None}
        ),
        relationships=[Relationship(cluster_ref(cluster_name), "member_of")] if cluster_name else [],
    )  # fmt: skip


def storage(entry: dict[str, Any]) -> ResourceData:
    """A ``/cluster/resources`` storage: one storage as one node sees it."""
    status = str(entry.get("status") or "unknown")
    return ResourceData(
        ems_ref=entry["id"],
        resource_type_slug="storage_pool",
        name=f"{entry['storage']} ({entry['node']})",
        vendor_type=f"PVE storage ({entry.get('plugintype') or 'unknown'})",
        state=STORAGE_STATES.get(status, "unknown"),
        power_state=status,
        disk_gb=_gib(entry.get("maxdisk")),
        properties=_present(
            {"storage": entry["storage"], "node": entry["node"], "type": entry.get("plugintype"),
             "content": _words(entry.get("content"), ","), "shared": bool(entry.get("shared")),
             "pool": entry.get("pool")}
        ),
        relationships=[Relationship(f"node/{entry['node']}", "part_of")],
    )  # fmt: skip


def guest(
    entry: dict[str, Any], config: dict[str, Any], snapshots: list[dict[str, Any]] | None = None
) -> ResourceData:
    """A ``/cluster/resources`` guest with its config (``qemu/<vmid>/config``, ``lxc/…``)
    and, when it has any, its snapshot list (``…/snapshot``)."""
    kind, node_name = entry["type"], entry["node"]
    status = str(entry.get("status") or "unknown")
    lock = config.get("lock") or entry.get("lock")
    notes = str(config.get("description") or "")
    found = labels.parse(notes)
    disks = _disks(config)
    tags = _words(config.get("tags") or entry.get("tags"), ";, ")
    is_template = bool(entry.get("template") or config.get("template"))
    return ResourceData(
        ems_ref=entry["id"],
        resource_type_slug="template" if is_template else "virtual_machine",
        name=entry.get("name") or config.get("name") or config.get("hostname") or entry["id"],
        description=labels.masked_notes(notes) or None,
        canonical_id=_smbios_uuid(config),
        vendor_identifiers={"vmid": entry["vmid"]},
        vendor_type=VENDOR_TYPES.get(kind, kind),
        state=_guest_state(status, lock),
        power_state=status,
        cpu_count=_count(entry.get("maxcpu")),
        memory_mb=_count(entry.get("maxmem"), MIB),
        disk_gb=_gib(entry.get("maxdisk")),
        ip_addresses=_addresses(config, found),
        mac_addresses=_macs(config),
        os_type=_os_type(kind, config.get("ostype")),
        os_name=config.get("ostype") or None,
        ems_created_on=_created(config.get("meta")),
        properties=_present(
            {"node": node_name, "vmid": entry["vmid"], "type": kind, "status": status, "lock": lock,
             "template": is_template, "pool": entry.get("pool"), "ha_state": entry.get("hastate"),
             "tags": tags, "onboot": _flag(config.get("onboot")), "disks": disks,
             "chatsubo": found.as_property() or None, **snapshot_properties(config, snapshots)}
        ),
        provider_tags={**dict.fromkeys(tags, ""), **found.values},
        relationships=[
            Relationship(f"node/{node_name}", "runs_on"),
            *(Relationship(f"storage/{node_name}/{name}", "attached_to")
              for name in sorted({disk["storage"] for disk in disks.values()})),
        ],
    )  # fmt: skip


def snapshot_names(snapshots: list[dict[str, Any]] | None) -> list[str]:
    """The snapshots of a ``…/snapshot`` answer, oldest first (without ``current``)."""
    taken = [s for s in snapshots or [] if s.get("name") and s.get("name") != "current"]
    return [s["name"] for s in sorted(taken, key=lambda s: (s.get("snaptime") or 0, s["name"]))]


def snapshot_properties(
    config: dict[str, Any], snapshots: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """``snapshots`` (names, oldest first), their count, and ``snapshot_parent``: the one
    the current state comes from (config ``parent``), which ``rollback`` returns to."""
    names = snapshot_names(snapshots)
    return {"snapshots": names, "snapshot_count": len(names) or None,
            "snapshot_parent": config.get("parent") or None}  # fmt: skip


def _guest_state(status: str, lock: Any) -> str:
    if lock in PROVISIONING_LOCKS:
        return "provisioning"
    if status == "stopped" and lock == "suspended":
        return "suspended"
    return GUEST_STATES.get(status, "unknown")


def _disks(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Volumes on a storage (``scsi0: local-lvm:vm-100-disk-0,size=32G``), by config key."""
    disks: dict[str, dict[str, Any]] = {}
    for key in sorted(config):
        is_numbered = key.rstrip("0123456789") in _DISK_KEYS and key[-1].isdigit()
        if not (is_numbered or key == "rootfs"):
            continue
        volume, options = _options(str(config[key]))
        storage_name, sep, name = volume.partition(":")
        if not sep or not storage_name or storage_name.startswith("/"):
            continue  # "none", a CD drive without media, a host device or path
        disks[key] = _present(
            {"storage": storage_name, "volume": name, "size": options.get("size"),
             "media": options.get("media")}
        )  # fmt: skip
    return disks


def _options(value: str) -> tuple[str, dict[str, str]]:
    """``first,key=value,…`` → ``(first, {key: value})``."""
    first, *rest = value.split(",")
    return first, dict(part.partition("=")[::2] for part in rest if "=" in part)


def _macs(config: dict[str, Any]) -> list[str]:
    found = []
    for key in sorted(k for k in config if k.startswith("net") and k[3:].isdigit()):
        first, options = _options(str(config[key]))
        mac = options.get("hwaddr") or options.get("macaddr") or first.partition("=")[2]
        if mac.count(":") == 5:
            found.append(mac.lower())
    return found


def _addresses(config: dict[str, Any], found: labels.Labels) -> list[str]:
    addresses = []
    for key in sorted(k for k in config if k.startswith(("net", "ipconfig"))):
        ip = _options("x," + str(config[key]))[1].get("ip", "")
        if ip and ip not in ("dhcp", "manual"):
            addresses.append(ip.partition("/")[0])
    address = found.get("address")
    if address and _is_ip(address):
        addresses.append(address)
    return list(dict.fromkeys(addresses))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _os_type(kind: str, ostype: Any) -> str | None:
    word = str(ostype or "")
    if not word:
        return None
    if kind == "lxc":
        return "linux" if word in _LINUX_CT else "other"
    if word.startswith("l2"):
        return "linux"
    if word.startswith("w"):
        return "windows"
    return "solaris" if word == "solaris" else "other"


def _smbios_uuid(config: dict[str, Any]) -> str | None:
    uuid = _options("x," + str(config.get("smbios1") or ""))[1].get("uuid")
    return uuid.lower() if uuid else None


def _created(meta: Any) -> str | None:
    ctime = _options("x," + str(meta or ""))[1].get("ctime", "")
    if not ctime.isdigit():
        return None
    return datetime.fromtimestamp(int(ctime), UTC).isoformat()


def _words(value: Any, separators: str) -> list[str]:
    text = str(value or "")
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [word for word in text.split(separators[0]) if word]


def _flag(value: Any) -> bool | None:
    return None if value is None else str(value) == "1"


def _count(value: Any, unit: int = 1) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value) // unit


def _gib(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return round(value / GIB, 2)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the unset ones (None, empty), so absent stays absent."""
    return {k: v for k, v in values.items() if v is not None and v != [] and v != {}}
