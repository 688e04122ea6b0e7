"""vSphere objects as Estate resources: one function per vSphere type.

Each function takes what the PropertyCollector answered (``Found``) and the datacenter
it was read from, and returns a ``ResourceData`` whose values are plain Python (pyVmomi
hands out its own ``int`` and ``str`` subclasses). States are Estate's words; the
platform's own word stays in ``power_state`` and ``properties``.

Relationships, from the resource to its target:
    VM runs_on host · VM member_of resource pool · VM attached_to datastore ·
    VM connected_to network · host member_of cluster (a standalone host: datacenter) ·
    host attached_to datastore · resource pool part_of its parent pool, or of its
    cluster (standalone host) · port group part_of distributed switch · cluster,
    datastore, network, switch member_of datacenter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from inventory_providers.base import Relationship, ResourceData

from .inventory import Datacenter, snapshots
from .reader import Found

MIB = 1 << 20
GIB = 1 << 30

VM_STATES = {"poweredOn": "running", "poweredOff": "stopped", "suspended": "suspended"}
HOST_STATES = {"poweredOn": "active", "poweredOff": "stopped", "standBy": "suspended"}
UNSEEN_VM = {"disconnected", "orphaned", "inaccessible"}  # vCenter cannot see its state
_WINDOWS, _LINUX = ("win",), (
    "rhel", "centos", "ubuntu", "debian", "sles", "suse", "opensuse", "oracle", "rocky",
    "alma", "fedora", "photon", "coreos", "amazonlinux", "asianux", "mandr", "turbolinux",
    "otherlinux", "other24x", "other26x", "other3x", "other4x", "other5x", "other6x", "redhat",
)  # fmt: skip


@lru_cache(maxsize=65536)
def edge(target: str, kind: str) -> Relationship:
    """One shared object per edge: thousands of VMs point at the same few targets."""
    return Relationship(target, kind)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _mib(size: Any) -> int | None:
    return None if not size else int(size) // MIB


def _gib(size: Any) -> float | None:
    return None if size is None else round(int(size) / GIB, 2)


def _plain(**values: Any) -> dict[str, Any]:
    """Properties without the unset ones; every value a plain JSON type."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = bool(value)
        elif isinstance(value, int):
            out[key] = int(value)
        elif isinstance(value, float):
            out[key] = float(value)
        else:
            out[key] = str(value)
    return out


def datacenter(found: Found) -> ResourceData:
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="datacenter",
        name=_text(found.props.get("name")),
        vendor_type="Datacenter",
        vendor_identifiers={"moref": found.ref},
        state="active",
        region=_text(found.props.get("name")),
        properties=_plain(overall_status=found.props.get("overallStatus")),
    )


def cluster(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    summary, config = p.get("summary"), p.get("configurationEx")
    ha, drs = getattr(config, "dasConfig", None), getattr(config, "drsConfig", None)
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="container_orchestration_platform",
        name=_text(p.get("name")),
        vendor_type="ClusterComputeResource",
        vendor_identifiers={"moref": found.ref},
        state="active",
        region=dc.name,
        cpu_count=_int(getattr(summary, "numCpuCores", None)),
        memory_mb=_mib(getattr(summary, "totalMemory", None)),
        properties=_plain(
            num_hosts=getattr(summary, "numHosts", None),
            num_effective_hosts=getattr(summary, "numEffectiveHosts", None),
            total_cpu_mhz=getattr(summary, "totalCpu", None),
            effective_cpu_mhz=getattr(summary, "effectiveCpu", None),
            effective_memory_mb=getattr(summary, "effectiveMemory", None),
            ha_enabled=getattr(ha, "enabled", None),
            drs_enabled=getattr(drs, "enabled", None),
            drs_behavior=getattr(drs, "defaultVmBehavior", None),
            overall_status=p.get("overallStatus"),
        ),
        relationships=[edge(dc.ref, "member_of")],
    )


def host(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    hardware, product = p.get("summary.hardware"), p.get("summary.config.product")
    connection, power = _text(p.get("runtime.connectionState")), _text(p.get("runtime.powerState"))
    maintenance = bool(p.get("runtime.inMaintenanceMode"))
    parent = p.get("parent")
    relationships = [edge(parent if parent in dc.clusters else dc.ref, "member_of")]
    relationships += [edge(store, "attached_to") for store in p.get("datastore") or ()]
    nics = [nic.spec for nic in p.get("config.network.vnic") or () if nic.spec is not None]
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="hypervisor_host",
        name=_text(p.get("name")),
        canonical_id=_text(getattr(hardware, "uuid", None)),
        vendor_type="HostSystem",
        vendor_identifiers=_plain(moref=found.ref, hardware_uuid=getattr(hardware, "uuid", None)),
        state=host_state(connection, maintenance, power),
        power_state=power,
        boot_time=p.get("runtime.bootTime"),
        region=dc.name,
        availability_zone=dc.clusters.get(parent or ""),
        cpu_count=_int(getattr(hardware, "numCpuCores", None)),
        memory_mb=_mib(getattr(hardware, "memorySize", None)),
        ip_addresses=[str(n.ip.ipAddress) for n in nics if n.ip and n.ip.ipAddress],
        mac_addresses=[str(n.mac) for n in nics if n.mac],
        fqdn=_text(p.get("name")),
        os_type="hypervisor",
        os_name=_text(getattr(product, "fullName", None)),
        properties=_plain(
            connection_state=connection,
            maintenance_mode=maintenance,
            overall_status=p.get("overallStatus"),
            vendor=getattr(hardware, "vendor", None),
            hardware_model=getattr(hardware, "model", None),
            cpu_model=getattr(hardware, "cpuModel", None),
            cpu_packages=getattr(hardware, "numCpuPkgs", None),
            cpu_threads=getattr(hardware, "numCpuThreads", None),
            cpu_mhz=getattr(hardware, "cpuMhz", None),
            product_version=getattr(product, "version", None),
            product_build=getattr(product, "build", None),
        ),
        provider_tags=dc.custom_values(found),
        relationships=relationships,
    )


def host_state(connection: str | None, maintenance: bool, power: str | None) -> str:
    """Estate's state of a host from vCenter's connection, maintenance and power words."""
    if connection == "notResponding":
        return "error"
    if connection == "disconnected":
        return "unknown"
    if maintenance:
        return "inactive"
    return HOST_STATES.get(power or "", "unknown")


def resource_pool(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    parent, owner = p.get("parent"), p.get("owner")
    root = parent not in dc.pools
    above = owner if root else parent
    above = dc.standalone.get(above or "", above)  # a standalone host's pool: the host
    config = p.get("config")
    cpu, memory = getattr(config, "cpuAllocation", None), getattr(config, "memoryAllocation", None)
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="auto_scaling_group",
        name=_text(p.get("name")),
        vendor_type=found.kind,
        vendor_identifiers={"moref": found.ref},
        state="active",
        region=dc.name,
        availability_zone=dc.clusters.get(owner or ""),
        properties=_plain(
            root=root,
            owner=dc.names.get(owner or ""),
            cpu_reservation_mhz=getattr(cpu, "reservation", None),
            cpu_limit_mhz=getattr(cpu, "limit", None),
            cpu_shares=getattr(getattr(cpu, "shares", None), "level", None),
            memory_reservation_mb=getattr(memory, "reservation", None),
            memory_limit_mb=getattr(memory, "limit", None),
            memory_shares=getattr(getattr(memory, "shares", None), "level", None),
            overall_status=p.get("overallStatus"),
        ),
        relationships=[edge(above, "part_of")] if above else [],
    )


def datastore(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    summary = p.get("summary")
    accessible = getattr(summary, "accessible", None)
    maintenance = _text(getattr(summary, "maintenanceMode", None))
    state = "error" if accessible is False else "active"
    if maintenance in ("inMaintenance", "enteringMaintenance"):
        state = "inactive"
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="block_storage",
        name=_text(p.get("name")),
        vendor_type="Datastore",
        vendor_identifiers=_plain(moref=found.ref, url=getattr(summary, "url", None)),
        state=state,
        region=dc.name,
        disk_gb=_gib(getattr(summary, "capacity", None)),
        properties=_plain(
            datastore_type=getattr(summary, "type", None),
            capacity_gb=_gib(getattr(summary, "capacity", None)),
            free_space_gb=_gib(getattr(summary, "freeSpace", None)),
            uncommitted_gb=_gib(getattr(summary, "uncommitted", None)),
            accessible=accessible,
            maintenance_mode=maintenance,
            shared=getattr(summary, "multipleHostAccess", None),
            overall_status=p.get("overallStatus"),
        ),
        relationships=[edge(dc.ref, "member_of")],
    )


def network(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    config = p.get("config")  # port groups only
    switch = getattr(config, "distributedVirtualSwitch", None)
    vlan = getattr(getattr(config, "defaultPortConfig", None), "vlan", None)
    relationships = [edge(dc.ref, "member_of")]
    if switch is not None:
        relationships.append(edge(str(switch._moId), "part_of"))
    accessible = p.get("summary.accessible")
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="network",
        name=_text(p.get("name")),
        vendor_type=found.kind,
        vendor_identifiers=_plain(moref=found.ref, key=p.get("key")),
        state="error" if accessible is False else "active",
        region=dc.name,
        properties=_plain(
            accessible=accessible,
            switch=dc.names.get(str(switch._moId)) if switch is not None else None,
            vlan_id=_vlan(vlan),
            num_ports=getattr(config, "numPorts", None),
            port_binding=getattr(config, "type", None),
            overall_status=p.get("overallStatus"),
        ),
        relationships=relationships,
    )


def _vlan(spec: Any) -> int | str | None:
    """A port group's VLAN: an id, a trunk's ranges as text, or a private VLAN's id."""
    vlan = getattr(spec, "vlanId", None)
    if isinstance(vlan, int):
        return int(vlan)
    if vlan:  # a trunk: a list of ranges
        return ",".join(f"{r.start}-{r.end}" for r in vlan)
    pvlan = getattr(spec, "pvlanId", None)
    return None if pvlan is None else int(pvlan)


def switch(found: Found, dc: Datacenter) -> ResourceData:
    p = found.props
    product = p.get("summary.productInfo")
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="virtual_switch",
        name=_text(p.get("name")),
        canonical_id=_text(p.get("uuid")),
        vendor_type=found.kind,
        vendor_identifiers=_plain(moref=found.ref, uuid=p.get("uuid")),
        state="active",
        region=dc.name,
        properties=_plain(
            num_ports=p.get("summary.numPorts"),
            version=getattr(product, "version", None),
            vendor=getattr(product, "vendor", None),
            overall_status=p.get("overallStatus"),
        ),
        relationships=[edge(dc.ref, "member_of")],
    )


def machine(found: Found, dc: Datacenter) -> ResourceData:
    """A VM, or a template (a VM marked as one: it never runs)."""
    p = found.props
    config, guest = p.get("summary.config"), p.get("summary.guest")
    storage = p.get("summary.storage")
    template = bool(getattr(config, "template", False))
    power, connection = _text(p.get("runtime.powerState")), _text(p.get("runtime.connectionState"))
    host_ref, pool = p.get("runtime.host"), p.get("resourcePool")
    relationships = [edge(host_ref, "runs_on")] if host_ref else []
    if pool:
        relationships.append(edge(pool, "member_of"))
    relationships += [edge(store, "attached_to") for store in p.get("datastore") or ()]
    relationships += [edge(net, "connected_to") for net in p.get("network") or ()]
    nics = p.get("guest.net") or ()
    addresses = list(dict.fromkeys(str(a) for nic in nics for a in nic.ipAddress or ()))
    primary = _text(getattr(guest, "ipAddress", None))
    if primary and primary not in addresses:
        addresses.insert(0, primary)
    guest_id = _text(getattr(config, "guestId", None))
    instance_uuid = _text(getattr(config, "instanceUuid", None))
    provisioned = int(storage.committed or 0) + int(storage.uncommitted or 0) if storage else None
    return ResourceData(
        ems_ref=found.ref,
        resource_type_slug="template" if template else "virtual_machine",
        name=_text(p.get("name")),
        description=_text(getattr(config, "annotation", None)) or None,
        canonical_id=instance_uuid,
        vendor_type="VirtualMachine",
        vendor_identifiers=_plain(
            moref=found.ref, instance_uuid=instance_uuid, bios_uuid=getattr(config, "uuid", None)
        ),
        state=vm_state(power, connection, template),
        power_state=power,
        boot_time=p.get("summary.runtime.bootTime"),
        region=dc.name,
        availability_zone=dc.zone(host_ref),
        cpu_count=_int(getattr(config, "numCpu", None)),
        memory_mb=_int(getattr(config, "memorySizeMB", None)),
        disk_gb=_gib(provisioned),
        ip_addresses=addresses,
        fqdn=_text(getattr(guest, "hostName", None)),
        mac_addresses=[str(nic.macAddress) for nic in nics if nic.macAddress],
        os_type=os_type(guest_id),
        os_name=_text(getattr(config, "guestFullName", None)),
        ems_created_on=p.get("config.createDate"),
        properties=_plain(
            guest_id=guest_id,
            connection_state=connection,
            tools_status=getattr(guest, "toolsRunningStatus", None),
            hardware_version=getattr(config, "hwVersion", None),
            vmx_path=getattr(config, "vmPathName", None),
            num_disks=getattr(config, "numVirtualDisks", None),
            num_nics=getattr(config, "numEthernetCards", None),
            host=dc.names.get(host_ref or ""),
            resource_pool=dc.names.get(pool or ""),
            overall_status=p.get("overallStatus"),
            template=template,
        )
        | snapshots(p.get("snapshot")),
        provider_tags=dc.custom_values(found),
        relationships=relationships,
    )


def vm_state(power: str | None, connection: str | None, template: bool) -> str:
    """Estate's state of a VM from vCenter's power and connection words."""
    if connection == "invalid":
        return "error"
    if connection in UNSEEN_VM:
        return "unknown"
    if template:
        return "inactive"
    return VM_STATES.get(power or "", "unknown")


def os_type(guest_id: str | None) -> str | None:
    """``windows``, ``linux`` or ``other`` from vSphere's guest OS id (``rhel9_64Guest``)."""
    if not guest_id:
        return None
    lowered = guest_id.lower()
    if lowered.startswith(_WINDOWS):
        return "windows"
    if lowered.startswith(_LINUX):
        return "linux"
    return "other"


MAPPERS: dict[str, Callable[[Found, Datacenter], ResourceData]] = {
    "ClusterComputeResource": cluster,
    "HostSystem": host,
    "ResourcePool": resource_pool,
    "VirtualApp": resource_pool,
    "Datastore": datastore,
    "Network": network,
    "DistributedVirtualPortgroup": network,
    "OpaqueNetwork": network,
    "DistributedVirtualSwitch": switch,
    "VmwareDistributedVirtualSwitch": switch,
    "VirtualMachine": machine,
}
"""The mapping of each vSphere type Estate keeps (a standalone host's ComputeResource is
only a wrapper: its host and pool are kept)."""


def resources(objects: Iterable[Found], dc: Datacenter) -> Iterable[ResourceData]:
    """The resources of objects that have a name (vCenter may drop one mid-read)."""
    for found in objects:
        mapper = MAPPERS.get(found.kind)
        if mapper is not None and "name" in found.props:
            yield mapper(found, dc)
