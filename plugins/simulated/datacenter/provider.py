"""A simulated vCenter-shaped datacenter: deterministic, fast, and needing no platform.

Estate's "mock provider" (VirtRigaud ships one too): tests, demos and benchmarks
collect from it without an emulator. Everything it yields is cheap integer arithmetic
on ``(seed, index)``, so the same settings and generation always give the same
resources, and a million of them stream without ever being held in memory.

Resource type mapping (the vSphere objects it imitates):
    cluster     ClusterComputeResource  container_orchestration_platform
    host        HostSystem (ESXi)       hypervisor_host
    datastore   Datastore               block_storage
    network     port group              network
    vm          VirtualMachine          virtual_machine

Churn: with ``churn_percent`` p, exactly p% of the VMs (for a VM count that is a
multiple of 100) change their mutable attributes from one ``generation`` to the next;
every other VM stays byte-for-byte identical.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from inventory_providers.base import BaseProvider, Relationship, ResourceData
from inventory_providers.errors import InvalidConfig, ProviderError, Unauthenticated, Unreachable

from . import images, machines
from .operations import MachineActions

PASSWORD = "simulated"
REGION = "dc-1"

# Knuth's multiplicative hash constant: spreads consecutive indexes over 32 bits.
_MIX = 2654435761
_MASK = 0xFFFFFFFF

_ROLES = ("web", "app", "db", "cache", "queue", "batch", "ci", "proxy")
_TEAMS = ("payments", "search", "identity", "platform", "data", "mobile", "billing", "ops")
_ENVS = ("production", "production", "staging", "development")
_CPUS = (1, 2, 2, 4, 4, 8, 8, 16)
_MEMORY_MB = (2048, 4096, 8192, 16384, 32768, 65536)  # churn steps through these
_DISKS_GB = (20, 40, 60, 100, 200, 500, 1000, 2000)
_OSES = (
    ("linux", "Ubuntu 22.04 LTS", "ubuntu64Guest"),
    ("linux", "Red Hat Enterprise Linux 9", "rhel9_64Guest"),
    ("linux", "Debian GNU/Linux 12", "debian12_64Guest"),
    ("windows", "Microsoft Windows Server 2022", "windows2019srvNext_64Guest"),
    ("linux", "Rocky Linux 9", "rockylinux_64Guest"),
    ("windows", "Microsoft Windows Server 2019", "windows2019srv_64Guest"),
    ("linux", "SUSE Linux Enterprise 15", "sles15_64Guest"),
    ("other", "VMware Photon OS", "vmwarePhoton64Guest"),
)
_RUNNING = ("running", "poweredOn", "toolsOk")
_STOPPED = ("stopped", "poweredOff", "toolsNotRunning")
_SUSPENDED = ("suspended", "suspended", "toolsNotRunning")
_POWER = (_RUNNING,) * 16 + (_STOPPED,) * 3 + (_SUSPENDED,)  # 80% / 15% / 5%

_KNOWN = frozenset(
    {
        "clusters",
        "hosts_per_cluster",
        "vms_per_host",
        "datastores",
        "networks",
        "seed",
        "churn_percent",
        "generation",
        "churn_interval_s",
        "resources",
        "fail_after",
    }
)


@dataclass(frozen=True, slots=True)
class Layout:
    """How many resources of each kind one collection yields."""

    clusters: int
    hosts: int
    datastores: int
    networks: int
    vms: int

    @property
    def total(self) -> int:
        return self.clusters + self.hosts + self.datastores + self.networks + self.vms

    @classmethod
    def for_total(cls, total: int) -> Layout:
        """Exactly ``total`` resources, mostly VMs (~40 per host, 16 hosts per cluster)."""
        hosts = max(1, total // 40)
        clusters = -(-hosts // 16)
        counts = []
        left = total
        # Infrastructure first, so that VMs always have a host, datastore and network.
        for wanted in (clusters, hosts, clusters * 2, min(clusters, 64)):
            counts.append(min(wanted, left))
            left -= counts[-1]
        clusters, hosts, datastores, networks = counts
        return cls(clusters, hosts, datastores, networks, vms=left)


@dataclass(frozen=True, slots=True)
class Settings:
    """The provider's ``connection_config``, checked and with defaults filled in."""

    layout: Layout
    seed: int
    churn_percent: int
    generation: int
    fail_after: int | None

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> Settings:
        """Read ``credential.extra``; raise ``InvalidConfig`` naming the bad parameter."""
        clusters = _integer(extra, "clusters", 2, minimum=1)
        hosts = clusters * _integer(extra, "hosts_per_cluster", 4, minimum=1)
        sized = Layout(
            clusters=clusters,
            hosts=hosts,
            datastores=_integer(extra, "datastores", 4, minimum=1),
            networks=_integer(extra, "networks", 3, minimum=1),
            vms=hosts * _integer(extra, "vms_per_host", 10, minimum=0),
        )
        total = _optional_integer(extra, "resources", minimum=0)
        layout = sized if total is None else Layout.for_total(total)
        churn = _integer(extra, "churn_percent", 0, minimum=0, maximum=100)
        interval = _integer(extra, "churn_interval_s", 60, minimum=1)
        generation = _optional_integer(extra, "generation", minimum=0)
        if generation is None:
            generation = int(time.time() // interval) if churn else 0
        return cls(
            layout=layout,
            seed=_integer(extra, "seed", 42, minimum=0),
            churn_percent=churn,
            generation=generation,
            fail_after=_optional_integer(extra, "fail_after", minimum=0),
        )


def _optional_integer(
    extra: Mapping[str, Any], name: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    value = extra.get(name)
    if value is None or value == "":
        return None
    number = _as_int(value)
    if number is None:
        raise InvalidConfig(f"connection_config.{name}: must be an integer, got {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidConfig(f"connection_config.{name}: must be {bounds}, got {number}")
    return number


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None  # True is an int to Python, never a size to a user
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _integer(
    extra: Mapping[str, Any], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    number = _optional_integer(extra, name, minimum=minimum, maximum=maximum)
    return default if number is None else number


class SimulatedDatacenterProvider(MachineActions, BaseProvider):
    """A deterministic datacenter of clusters, ESXi hosts, datastores, port groups and VMs.

    Its actions (``operations.py``) change VMs; what they changed is kept in the
    provider's state folder (``machines.py``) and shown by every later collection.
    """

    vendor = "simulated"
    provider_type = "datacenter"
    display_name = "Simulated datacenter"
    supported_resource_types = [
        "virtual_machine",
        "hypervisor_host",
        "container_orchestration_platform",
        "block_storage",
        "network",
        "image",
    ]

    settings: Settings | None = None

    def connect(self) -> None:
        """Check the settings and the password (if one is given it must be ``simulated``)."""
        password = self.credential.password
        if password and password != PASSWORD:
            raise Unauthenticated(f"password refused for user {self.credential.username!r}")
        extra = self.credential.extra
        for name in sorted(set(extra) - _KNOWN):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        self.settings = Settings.from_extra(extra)

    def disconnect(self) -> None:
        """Forget the session."""
        self.settings = None

    def collect(self) -> Iterator[ResourceData]:
        """Yield clusters, hosts, datastores, networks, then VMs, lazily."""
        settings = self.settings
        if settings is None:
            raise ProviderError("collect() called before connect()")
        layout = settings.layout
        self.logger.info(
            "collecting %d resources (%d clusters, %d hosts, %d datastores, %d networks, "
            "%d VMs; seed %d, generation %d, churn %d%%)",
            layout.total,
            layout.clusters,
            layout.hosts,
            layout.datastores,
            layout.networks,
            layout.vms,
            settings.seed,
            settings.generation,
            settings.churn_percent,
        )
        started = time.perf_counter()
        resources = self._generate(settings)
        limit = settings.fail_after
        if limit is not None and limit <= layout.total:
            yield from islice(resources, limit)
            raise Unreachable(f"simulated connection loss after {limit} resources (fail_after)")
        yield from resources
        self.logger.info(
            "collected %d resources in %.2f s", layout.total, time.perf_counter() - started
        )

    def _generate(self, settings: Settings) -> Iterator[ResourceData]:
        """Every kind in turn; of a targeted collection, only the kinds asked for."""
        layout = settings.layout
        document = self._store().load()
        changed = machines.is_changed(document)
        kinds = (
            ("container_orchestration_platform", lambda: _clusters(layout)),
            ("hypervisor_host", lambda: _hosts(layout, settings.seed)),
            ("block_storage", lambda: _datastores(layout, settings.seed)),
            ("network", lambda: _networks(layout)),
            (
                "virtual_machine",
                lambda: (
                    machines.with_changes(_vms(layout, settings), document, self._generated)
                    if changed
                    else _vms(layout, settings)
                ),
            ),
            ("image", lambda: images.records(document)),
        )
        targets = getattr(self, "target_resource_types", None)
        for slug, generate in kinds:
            if targets is None or slug in targets:
                yield from generate()

    def _vm_at(self, index: int) -> ResourceData | None:
        """The generated VM number ``index`` (from 0), or None (what actions act on)."""
        if self.settings is None:
            self.connect()
        settings = self.settings
        assert settings is not None
        if not 0 <= index < settings.layout.vms:
            return None
        return next(islice(_vms(settings.layout, settings), index, None), None)


def _cluster_ref(index: int) -> str:
    return f"cluster-{index + 1:02d}"


def _host_ref(index: int) -> str:
    return f"host-{index + 1:04d}"


def _datastore_ref(index: int) -> str:
    return f"datastore-{index + 1:02d}"


def _network_ref(index: int) -> str:
    return f"network-{index + 1:02d}"


def _clusters(layout: Layout) -> Iterator[ResourceData]:
    for c in range(layout.clusters):
        hosts = layout.hosts // layout.clusters + (c < layout.hosts % layout.clusters)
        yield ResourceData(
            ems_ref=_cluster_ref(c),
            resource_type_slug="container_orchestration_platform",
            name=f"Cluster-{c + 1:02d}",
            vendor_type="ClusterComputeResource",
            state="active",
            region=REGION,
            cpu_count=hosts * 64,
            memory_mb=hosts * 524288,
            properties={"ha_enabled": True, "drs_enabled": c % 3 != 2, "num_hosts": hosts},
        )


def _hosts(layout: Layout, seed: int) -> Iterator[ResourceData]:
    for h in range(layout.hosts):
        mix = (h * _MIX + seed) & _MASK
        in_maintenance = mix % 50 == 0
        cluster = h % layout.clusters
        name = f"esxi-{h + 1:04d}.{REGION}.simulated"
        yield ResourceData(
            ems_ref=_host_ref(h),
            resource_type_slug="hypervisor_host",
            name=name,
            vendor_type="HostSystem",
            state="inactive" if in_maintenance else "active",
            power_state="poweredOn",
            region=REGION,
            availability_zone=_cluster_ref(cluster),
            cpu_count=64,
            memory_mb=524288,
            ip_addresses=[f"172.16.{(h + 1) >> 8 & 255}.{(h + 1) & 255}"],
            fqdn=name,
            mac_addresses=[f"00:25:b5:00:{h >> 8 & 255:02x}:{h & 255:02x}"],
            os_type="hypervisor",
            os_name="VMware ESXi 8.0.2",
            properties={
                "hardware_model": "PowerEdge R750" if mix >> 8 & 1 else "ProLiant DL380 Gen10",
                "maintenance_mode": in_maintenance,
                "connection_state": "connected",
            },
            relationships=[Relationship(_cluster_ref(cluster), "member_of")],
        )


def _datastores(layout: Layout, seed: int) -> Iterator[ResourceData]:
    for d in range(layout.datastores):
        capacity = 4096 << (d % 4)
        free = capacity * (10 + ((d * _MIX + seed) & _MASK) % 80) // 100
        yield ResourceData(
            ems_ref=_datastore_ref(d),
            resource_type_slug="block_storage",
            name=f"datastore{d + 1}",
            vendor_type="Datastore",
            state="active",
            region=REGION,
            disk_gb=capacity,
            properties={"datastore_type": "vmfs", "capacity_gb": capacity, "free_space_gb": free},
        )


def _networks(layout: Layout) -> Iterator[ResourceData]:
    for n in range(layout.networks):
        yield ResourceData(
            ems_ref=_network_ref(n),
            resource_type_slug="network",
            name=f"pg-vlan-{100 + n}",
            vendor_type="DistributedVirtualPortgroup",
            state="active",
            region=REGION,
            properties={"vlan_id": 100 + n, "switch": "dvs-01"},
        )


def _vms(layout: Layout, settings: Settings) -> Iterator[ResourceData]:
    # This loop runs a million times in benchmarks: every string that can be is built
    # once up front, and the per-VM work is table lookups and concatenation.
    hosts, datastores, networks = layout.hosts, layout.datastores, layout.networks
    on_host = [Relationship(_host_ref(h), "runs_on") for h in range(hosts)]
    zone = [_cluster_ref(h % layout.clusters) for h in range(hosts)]
    on_datastore = [Relationship(_datastore_ref(d), "attached_to") for d in range(datastores)]
    on_network = [Relationship(_network_ref(n), "connected_to") for n in range(networks)]
    prefixes = [f"{role}-" for role in _ROLES]
    folders = [f"/{REGION}/vm/{role}" for role in _ROLES]
    owners = [f"owned by {team}" for team in _TEAMS]
    hexes = [f"{byte:02x}" for byte in range(256)]
    decimals = [str(byte) for byte in range(256)]
    seed, churn = settings.seed, settings.churn_percent
    # Churn sweeps a window of `churn` residues (out of 100) per generation; a VM's
    # version counts how often the window has passed its residue, so consecutive
    # generations differ for exactly the VMs whose residue the newest window covers.
    sweep = (settings.generation + 1) * churn + 99
    for i in range(layout.vms):
        mix = (i * _MIX + seed) & _MASK
        mix ^= mix >> 15
        version = (sweep - (i * _MIX + seed) % 100) // 100 if churn else 0
        role = mix & 7
        team = mix >> 11 & 7
        state, power_state, tools = _POWER[((mix >> 3) + version * 7) % 20]
        os_type, os_name, guest_id = _OSES[mix >> 8 & 7]
        host = i % hosts
        number = str(i + 1).zfill(6)
        high, middle, low = decimals[i >> 16 & 255], i >> 8 & 255, i & 255
        yield ResourceData(
            ems_ref="vm-" + number,
            resource_type_slug="virtual_machine",
            name=prefixes[role] + number,
            vendor_type="VirtualMachine",
            state=state,
            power_state=power_state,
            region=REGION,
            availability_zone=zone[host],
            cpu_count=_CPUS[mix >> 14 & 7],
            memory_mb=_MEMORY_MB[((mix >> 17) + version) % 6],
            disk_gb=_DISKS_GB[mix >> 20 & 7],
            ip_addresses=[f"10.{high}.{decimals[middle]}.{decimals[low]}"],
            mac_addresses=[f"00:50:56:{hexes[i >> 16 & 255]}:{hexes[middle]}:{hexes[low]}"],
            os_type=os_type,
            os_name=os_name,
            properties={
                "guest_id": guest_id,
                "tools_status": tools,
                "annotation": owners[team],
                "folder": folders[role],
                "change_version": version,
            },
            provider_tags={"env": _ENVS[mix >> 23 & 3], "team": _TEAMS[team], "role": _ROLES[role]},
            relationships=[on_host[host], on_datastore[i % datastores], on_network[i % networks]],
        )
