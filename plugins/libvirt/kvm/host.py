"""The node itself (``hypervisor_host``) and its virtual networks (``network``).

The host's ems_ref is the UUID its capabilities report (the machine's SMBIOS UUID on a
real KVM host), so renaming the host keeps its history; drivers that report none
(libvirt's test driver) fall back to the hostname.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from inventory_providers.base import Relationship, ResourceData

from .connection import is_unsupported


def version_text(number: int) -> str:
    """libvirt's packed version (major * 1,000,000 + minor * 1,000 + micro) as text."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def host_resource(connection: libvirt.virConnect, uri: str) -> ResourceData:
    """The node: ``virNodeGetInfo``, the hostname, the capabilities, the versions."""
    model, memory_mib, cpus, mhz, numa_nodes, sockets, cores, threads = connection.getInfo()
    hostname = connection.getHostname()
    capabilities = ET.fromstring(connection.getCapabilities())
    uuid = capabilities.findtext("host/uuid") or None
    hypervisor = connection.getType()
    try:
        hypervisor_version = version_text(connection.getVersion())
    except libvirt.libvirtError as exc:
        if not is_unsupported(exc):
            raise
        hypervisor_version = None
    properties: dict[str, Any] = {
        "uri": uri,
        "hypervisor": hypervisor,
        "hypervisor_version": hypervisor_version,
        "libvirt_version": version_text(connection.getLibVersion()),
        "cpu_model": model,
        "cpu_mhz": mhz,
        "numa_nodes": numa_nodes,
        "sockets": sockets,
        "cores_per_socket": cores,
        "threads_per_core": threads,
        "arch": capabilities.findtext("host/cpu/arch"),
        "cpu_vendor": capabilities.findtext("host/cpu/vendor"),
        "cpu_name": capabilities.findtext("host/cpu/model"),
        "guest_os_types": sorted({e.text or "" for e in capabilities.iterfind("guest/os_type")}),
    }
    version = f" {hypervisor_version}" if hypervisor_version else ""
    return ResourceData(
        ems_ref=uuid or hostname,
        resource_type_slug="hypervisor_host",
        name=hostname,
        canonical_id=uuid,
        vendor_type=f"libvirt {hypervisor}",
        state="active",
        power_state="on",
        cpu_count=cpus,
        memory_mb=memory_mib,
        fqdn=hostname if "." in hostname else None,
        os_type="hypervisor",
        os_name=f"{hypervisor}{version} (libvirt {properties['libvirt_version']})",
        properties={k: v for k, v in properties.items() if v is not None},
    )


def host_ems_ref(connection: libvirt.virConnect) -> str:
    """The host's ems_ref alone (what a domain's ``runs_on`` names), as ``host_resource``
    sets it: the capabilities' UUID, or the hostname."""
    uuid = ET.fromstring(connection.getCapabilities()).findtext("host/uuid")
    return uuid or connection.getHostname()


def network_resource(network: libvirt.virNetwork, host_ref: str) -> ResourceData:
    """One virtual network from its definition and whether it is started."""
    root = ET.fromstring(network.XMLDesc(0))
    uuid = network.UUIDString()
    active = bool(network.isActive())
    forward = root.find("forward")
    bridge = root.find("bridge")
    addresses = []
    for ip in root.iterfind("ip"):
        address = ip.get("address")
        prefix = ip.get("prefix") or ip.get("netmask")
        if address:
            addresses.append(f"{address}/{prefix}" if prefix else address)
    properties: dict[str, Any] = {
        "forward_mode": forward.get("mode", "nat") if forward is not None else "isolated",
        "bridge": bridge.get("name") if bridge is not None else None,
        "autostart": bool(network.autostart()),
        "persistent": bool(network.isPersistent()),
        "addresses": addresses,
    }
    return ResourceData(
        ems_ref=uuid,
        resource_type_slug="network",
        name=network.name(),
        canonical_id=uuid,
        vendor_type="libvirt network",
        state="active" if active else "inactive",
        properties={k: v for k, v in properties.items() if v is not None},
        relationships=[Relationship(host_ref, "part_of")],
    )


def dhcp_leases(network: libvirt.virNetwork) -> dict[str, list[str]]:
    """MAC → addresses the network's DHCP server leased (one call per network)."""
    leases: dict[str, list[str]] = {}
    for lease in network.DHCPLeases():
        mac, address = lease.get("mac"), lease.get("ipaddr")
        if mac and address:
            leases.setdefault(mac.lower(), []).append(address)
    # Sorted: the lease file's order is no change of the VM's.
    return {mac: sorted(addresses) for mac, addresses in leases.items()}
