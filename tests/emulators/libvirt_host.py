"""A whole libvirt host in one XML file, for libvirt's own ``test://`` driver.

``test:///ABS/PATH.xml`` loads a ``<node>``: its CPU and memory, networks, storage
pools with their volumes, and domains, each with a fixed UUID. There is no daemon to
start: every ``open()`` of the URI reads the file into a private in-memory copy, so a
test changes the host between two collections by writing the file again
(:meth:`LibvirtHost.write`). sushy-emulator (``emulators.sushy``) serves the domains
of such a file as Redfish ComputerSystems, reading the file again on every request.

The test namespace sets what a real host would be doing: ``<test:runstate>`` (a
``virDomainState`` number; without one a domain is running) and ``<test:transient/>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
SUSHY_NS = "http://openstack.org/xmlns/libvirt/sushy"
# virDomainState, as <test:runstate> takes it.
RUNSTATES = {
    "nostate": 0,
    "running": 1,
    "blocked": 2,
    "paused": 3,
    "shutdown": 4,
    "shutoff": 5,
    "crashed": 6,
    "pmsuspended": 7,
}
IMAGES = "/var/lib/libvirt/images"
GIB = 1024**3


def domain_uuid(index: int) -> str:
    """The fixed UUID of the domain numbered ``index``."""
    return f"5a1e0000-0000-4000-8000-{index:012x}"


def mac_of(index: int, nic: int = 0) -> str:
    """The fixed MAC address of NIC ``nic`` of domain ``index`` (52:54:00 is QEMU's OUI)."""
    return f"52:54:{nic:02x}:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}"


@dataclass
class Volume:
    name: str
    capacity_gib: int = 20
    allocation_gib: int = 2
    format: str = "qcow2"


@dataclass
class Pool:
    name: str
    uuid: str
    path: str
    capacity_gib: int = 2048
    volumes: list[Volume] = field(default_factory=list)

    def volume_path(self, volume: str) -> str:
        return f"{self.path}/{volume}"


@dataclass
class Network:
    name: str
    uuid: str
    bridge: str
    subnet: str = "192.168.122"
    forward: str | None = "nat"


@dataclass
class Nic:
    mac: str
    network: str | None = None  # a libvirt network, or …
    bridge: str | None = None  # … a host bridge


@dataclass
class Domain:
    name: str
    uuid: str
    vcpus: int = 2
    memory_mib: int = 2048
    runstate: str | None = None  # a RUNSTATES word; None: running
    disks: list[str] = field(default_factory=list)  # source file paths
    nics: list[Nic] = field(default_factory=list)
    title: str | None = None
    transient: bool = False
    broken_bios_metadata: bool = False
    """sushy-emulator cannot render this domain's ComputerSystem (a BIOS version entry
    without a value in its metadata): a real BMC-side failure of one system."""


@dataclass
class LibvirtHost:
    """What one libvirt test host holds; :meth:`write` renders it for the test driver."""

    domains: list[Domain] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    cpus: int = 32
    mhz: int = 2400
    memory_mib: int = 262144
    auth: tuple[str, str] | None = None  # (user, password) the host asks for

    def write(self, path: Path) -> str:
        """Write the host to ``path`` (atomically, so a reader never sees half a file);
        the ``test:///`` URI that opens it."""
        path = path.resolve()
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(self.xml(), encoding="utf-8")
        staging.replace(path)
        return f"test://{path}"

    def domain(self, name: str) -> Domain:
        (found,) = [d for d in self.domains if d.name == name]
        return found

    def xml(self) -> str:
        parts = [f'<?xml version="1.0"?>\n<node xmlns:test="{TEST_NS}">']
        if self.auth is not None:
            user, password = self.auth
            parts.append(f"<auth><user password={quoteattr(password)}>{user}</user></auth>")
        parts.append(
            f"<cpu><mhz>{self.mhz}</mhz><model>x86_64</model><active>{self.cpus}</active>"
            f"<total>{self.cpus}</total><nodes>2</nodes><sockets>2</sockets>"
            f"<cores>{max(1, self.cpus // 4)}</cores><threads>2</threads></cpu>"
            f"<memory>{self.memory_mib * 1024}</memory>"
        )
        parts.extend(_network_xml(n) for n in self.networks)
        parts.extend(_pool_xml(p) for p in self.pools)
        parts.extend(domain_xml(d) for d in self.domains)
        parts.append("</node>\n")
        return "\n".join(parts)


def _network_xml(network: Network) -> str:
    forward = f'<forward mode="{network.forward}"/>' if network.forward else ""
    return (
        f"<network><name>{network.name}</name><uuid>{network.uuid}</uuid>"
        f'<bridge name="{network.bridge}"/>{forward}'
        f'<ip address="{network.subnet}.1" netmask="255.255.255.0"/></network>'
    )


def _pool_xml(pool: Pool) -> str:
    allocated = sum(v.allocation_gib for v in pool.volumes)
    volumes = "".join(
        f'<volume type="file"><name>{v.name}</name><key>{pool.volume_path(v.name)}</key>'
        f'<capacity unit="GiB">{v.capacity_gib}</capacity>'
        f'<allocation unit="GiB">{v.allocation_gib}</allocation>'
        f'<target><path>{pool.volume_path(v.name)}</path><format type="{v.format}"/></target>'
        "</volume>"
        for v in pool.volumes
    )
    return (
        f'<pool type="dir"><name>{pool.name}</name><uuid>{pool.uuid}</uuid>'
        f'<capacity unit="GiB">{pool.capacity_gib}</capacity>'
        f'<allocation unit="GiB">{allocated}</allocation>'
        f'<available unit="GiB">{pool.capacity_gib - allocated}</available>'
        f"<target><path>{pool.path}</path></target>{volumes}</pool>"
    )


def domain_xml(domain: Domain) -> str:
    disks = "".join(
        f'<disk type="file" device="disk"><driver name="qemu" type="qcow2"/>'
        f'<source file="{path}"/><target dev="vd{chr(97 + i)}" bus="virtio"/></disk>'
        for i, path in enumerate(domain.disks)
    )
    nics = "".join(_nic_xml(nic) for nic in domain.nics)
    extra = f"<title>{domain.title}</title>" if domain.title else ""
    if domain.broken_bios_metadata:
        extra += (
            f'<metadata><sushy:bios xmlns:sushy="{SUSHY_NS}"><sushy:versions>'
            '<sushy:version name="BiosVersion"/></sushy:versions></sushy:bios></metadata>'
        )
    state = ""
    if domain.runstate is not None:
        state = f"<test:runstate>{RUNSTATES[domain.runstate]}</test:runstate>"
    if domain.transient:
        state += "<test:transient/>"
    return (
        f'<domain type="test"><name>{domain.name}</name><uuid>{domain.uuid}</uuid>{extra}'
        f'<memory unit="MiB">{domain.memory_mib}</memory><vcpu>{domain.vcpus}</vcpu>'
        f'<os><type arch="x86_64">hvm</type><boot dev="hd"/></os>'
        f"<devices>{disks}{nics}</devices>{state}</domain>"
    )


def _nic_xml(nic: Nic) -> str:
    if nic.network is not None:
        source = f'type="network"><source network="{nic.network}"/>'
    else:
        source = f'type="bridge"><source bridge="{nic.bridge}"/>'
    return f'<interface {source}<mac address="{nic.mac}"/><model type="virtio"/></interface>'


def standard_host(domains: int, *, pools: int = 2, networks: int = 2) -> LibvirtHost:
    """``domains`` running domains spread over ``networks`` networks and ``pools`` pools,
    each with its own volume; plus one bridged NIC on every tenth domain and one
    spare volume per pool that no domain uses."""
    host = LibvirtHost(
        networks=[
            Network(
                name="default" if n == 0 else f"net{n}",
                uuid=f"0e7e0000-0000-4000-8000-{n:012x}",
                bridge=f"virbr{n}",
                subnet=f"192.168.{122 + n}",
                forward="nat" if n == 0 else None,
            )
            for n in range(networks)
        ],
        pools=[
            Pool(
                name="default" if p == 0 else f"pool{p}",
                uuid=f"90010000-0000-4000-8000-{p:012x}",
                path=IMAGES if p == 0 else f"/srv/pool{p}",
                volumes=[Volume(name=f"spare{p}.qcow2", capacity_gib=10, allocation_gib=0)],
            )
            for p in range(pools)
        ],
    )
    for i in range(domains):
        pool = host.pools[i % pools]
        volume = Volume(name=f"vm{i:05d}.qcow2", capacity_gib=20 + i % 5 * 10)
        pool.volumes.append(volume)
        nics = [Nic(mac=mac_of(i), network=host.networks[i % networks].name)]
        if i % 10 == 0:
            nics.append(Nic(mac=mac_of(i, 1), bridge="br-ext"))
        host.domains.append(
            Domain(
                name=f"vm{i:05d}",
                uuid=domain_uuid(i),
                vcpus=1 + i % 4,
                memory_mib=1024 * (1 + i % 8),
                disks=[pool.volume_path(volume.name)],
                nics=nics,
            )
        )
    return host
