"""What is read of each vSphere type, and how a datacenter's objects point at each other.

``INFRASTRUCTURE`` and ``MACHINES`` are the property paths asked of the
PropertyCollector: only what the mapping uses, since every path costs XML to parse for
every object, and a summary object where one holds several fields (one path costs
three XML elements around its value: 26 single paths per VM parse 30% slower than
these 15; the snapshot tree, unset on most VMs, came later). ``Datacenter`` resolves
the references the mapping needs (a host's cluster, a resource pool's owner) from the
objects of one datacenter, in memory; ``snapshots`` flattens a VM's snapshot tree.
``Plan`` narrows the reads to the types a targeted collection asks for: VMs alone
need only ``NAMES`` of the infrastructure, so their records are the full run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim

from .reader import Found

INFRASTRUCTURE: dict[type, list[str]] = {
    vim.ComputeResource: ["name", "host", "summary", "overallStatus"],
    vim.ClusterComputeResource: ["configurationEx"],
    vim.HostSystem: [
        "name",
        "parent",
        "overallStatus",
        "runtime.connectionState",
        "runtime.inMaintenanceMode",
        "runtime.powerState",
        "runtime.bootTime",
        "summary.hardware",
        "summary.config.product",
        "config.network.vnic",
        "datastore",
        "customValue",
    ],
    vim.ResourcePool: ["name", "parent", "owner", "overallStatus", "config"],
    vim.Datastore: ["name", "summary", "overallStatus"],
    vim.Network: ["name", "summary.accessible", "overallStatus"],
    vim.dvs.DistributedVirtualPortgroup: ["key", "config"],
    vim.DistributedVirtualSwitch: [
        "name",
        "uuid",
        "overallStatus",
        "summary.numPorts",
        "summary.productInfo",
    ],
}
"""Everything of a datacenter but its VMs: few objects, read into memory at once."""

MACHINES: dict[type, list[str]] = {
    vim.VirtualMachine: [
        "name",
        "overallStatus",
        "summary.config",
        "summary.guest",
        "summary.storage",
        "config.createDate",
        "runtime.powerState",
        "runtime.connectionState",
        "runtime.host",
        "summary.runtime.bootTime",  # runtime.bootTime on vCenter; vcsim updates only this
        "guest.net",
        "resourcePool",
        "datastore",
        "network",
        "customValue",
        "snapshot",
    ],
}
"""A datacenter's VMs and templates: streamed page by page, never all in memory."""

NAMES: dict[type, list[str]] = {
    vim.ComputeResource: ["name", "host"],
    vim.HostSystem: ["name"],
    vim.ResourcePool: ["name"],
}
"""What a VM's record takes from the infrastructure: its host's, pool's and cluster's
names (``Datacenter.learn``); a targeted collection of VMs reads only this of it."""

MACHINE_TYPES = frozenset({"virtual_machine", "template"})


@dataclass(frozen=True, slots=True)
class Plan:
    """What one collection reads of each datacenter, for the types it asks for."""

    infrastructure: dict[type, list[str]]  # paths of the infrastructure objects read
    keeps_infrastructure: bool  # whether they become resources (else only names)
    has_machines: bool  # whether the VMs and templates are read

    @classmethod
    def of(cls, targets: frozenset[str] | None) -> Plan:
        """The whole datacenter for a full collection (``targets`` None); for a
        targeted one, the infrastructure only when one of its types is asked, its names
        when only VMs or templates are, nothing of it for datacenters alone."""
        if targets is None or targets - MACHINE_TYPES - {"datacenter"}:
            return cls(INFRASTRUCTURE, True, targets is None or bool(targets & MACHINE_TYPES))
        if targets & MACHINE_TYPES:
            return cls(NAMES, False, True)
        return cls({}, False, False)

    @property
    def view_types(self) -> list[type]:
        return [*self.infrastructure, *(MACHINES if self.has_machines else ())]


@dataclass(slots=True)
class Datacenter:
    """One datacenter's names and references, for the mapping to resolve."""

    ref: str
    name: str
    fields: dict[int, str]  # custom attribute key → name
    clusters: dict[str, str] = field(default_factory=dict)  # cluster id → name
    standalone: dict[str, str] = field(default_factory=dict)  # compute resource id → host id
    host_cluster: dict[str, str] = field(default_factory=dict)  # host id → cluster id
    pools: set[str] = field(default_factory=set)  # resource pool and vApp ids
    names: dict[str, str] = field(default_factory=dict)  # any object id → its name

    def learn(self, objects: Iterable[Found]) -> None:
        """Index the infrastructure objects of this datacenter."""
        for found in objects:
            name = found.props.get("name")
            if name is not None:
                self.names[found.ref] = str(name)
            if found.kind == "ClusterComputeResource":
                self.clusters[found.ref] = str(name)
                for host in found.props.get("host") or ():
                    self.host_cluster[host] = found.ref
            elif found.kind in ("ResourcePool", "VirtualApp"):
                self.pools.add(found.ref)
            elif found.kind == "ComputeResource":
                hosts = found.props.get("host") or ()
                if hosts:
                    self.standalone[found.ref] = hosts[0]

    def zone(self, host: str | None) -> str | None:
        """The name of the cluster a host is in (its availability zone), if any."""
        cluster = self.host_cluster.get(host or "")
        return self.clusters.get(cluster) if cluster else None

    def custom_values(self, found: Found) -> dict[str, str]:
        """The object's custom attributes by name (vCenter's own tags of old)."""
        values = {}
        for value in found.props.get("customValue") or ():
            name = self.fields.get(int(value.key))
            if name is not None and getattr(value, "value", None) is not None:
                values[name] = str(value.value)
        return values


def snapshot_trees(info: Any) -> list[Any]:
    """A VM's snapshots (``VirtualMachineSnapshotTree``), oldest first."""
    trees, stack = [], list(getattr(info, "rootSnapshotList", None) or ())
    while stack:
        tree = stack.pop()
        trees.append(tree)
        stack.extend(tree.childSnapshotList or ())
    return sorted(trees, key=lambda tree: (tree.createTime, int(tree.id)))


def snapshots(info: Any) -> dict[str, Any]:
    """What the snapshot actions' availability reads: the count, the names oldest first,
    and the one the VM runs from (``current_snapshot``)."""
    trees = snapshot_trees(info)
    current = getattr(getattr(info, "currentSnapshot", None), "_moId", None)
    found = {
        "snapshot_count": len(trees),
        "snapshots": [str(tree.name) for tree in trees],
    }
    for tree in trees:
        if current is not None and tree.snapshot._moId == current:
            found["current_snapshot"] = str(tree.name)
    return found
