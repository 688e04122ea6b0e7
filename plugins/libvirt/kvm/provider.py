"""libvirt / KVM: one libvirt host (a KVM node, or any libvirt driver) as an inventory.

Resource type mapping (the libvirt objects they come from):
    node            virNodeGetInfo, capabilities    hypervisor_host
    network         virNetwork                      network
    storage pool    virStoragePool                  storage_pool
    volume          virStorageVol                   block_storage
    domain          virDomain                       virtual_machine

Reads are bulk where libvirt has a bulk call: ``virConnectListAllDomains`` /
``virConnectGetAllDomainStats`` (every domain's state in one round trip),
``virConnectListAllStoragePools``, ``virStoragePoolListAllVolumes``,
``virConnectListAllNetworks``, ``virNetworkGetDHCPLeases``; then one definition
(``XMLDesc``) per object, which carries all the rest.

Order matters for the edges: the host first, then networks, pools (all of them) and
their volumes, then domains, whose disks and NICs are matched against what came before.
Actions (``actions.py``: core and snapshot; ``cloning.py``: clone and create) are
mixed in; each opens a read-write connection of its own (``session.py``).

A targeted collection reads only what its types need: of domains alone, the host's
UUID, the networks' names and DHCP leases, the pools' definitions and the volumes
(what the domains' edges and sizes come from), but no host, network or pool record;
the domains' records are those of a full collection.

When one part cannot be read while the connection still works (a pool stopped while
it was read, a driver that refuses a list), the rest is collected and the part is
named with ``report_incomplete``: the run ends partial and deletes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import libvirt

from inventory_providers.base import BaseProvider, ProviderCredential, ResourceData
from inventory_providers.errors import InvalidConfig, ProviderError

from .actions import DomainActions
from .cloning import DomainCopies
from .connection import (
    check_uri,
    is_gone,
    is_unsupported,
    open_connection,
    translate,
    with_verification,
)
from .domains import StorageIndex, domain_resource
from .host import dhcp_leases, host_ems_ref, host_resource, network_resource
from .storage import index_pool, pool_resource, pool_state, volume_resource

DEFAULT_TIMEOUT = 20.0
_KNOWN = frozenset({"timeout", "verify_ssl"})


@dataclass(frozen=True, slots=True)
class Settings:
    """The provider's endpoint and ``connection_config``, checked."""

    uri: str
    timeout: float
    username: str | None
    password: str | None

    @classmethod
    def from_credential(cls, credential: ProviderCredential) -> Settings:
        extra: Mapping[str, Any] = credential.extra
        verify = extra.get("verify_ssl", True)
        if not isinstance(verify, bool):
            raise InvalidConfig(
                f"connection_config.verify_ssl: must be true or false, got {verify!r}"
            )
        return cls(
            uri=with_verification(check_uri(credential.hostname), verify),
            timeout=_timeout(extra.get("timeout")),
            username=credential.username or None,
            password=credential.password or None,
        )


def _timeout(value: Any) -> float:
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds <= 3600:
        raise InvalidConfig(
            f"connection_config.timeout: must be a number of seconds between 1 and 3600, got {value!r}"
        )
    return seconds


class LibvirtKvmProvider(DomainActions, DomainCopies, BaseProvider):
    """A libvirt host: its domains, networks, storage pools and volumes."""

    vendor = "libvirt"
    provider_type = "kvm"
    display_name = "libvirt / KVM"
    supported_resource_types = [
        "virtual_machine",
        "hypervisor_host",
        "network",
        "storage_pool",
        "block_storage",
    ]

    settings: Settings | None = None
    connection: libvirt.virConnect | None = None

    def connect(self) -> None:
        """Open a read-only connection within ``timeout`` seconds."""
        settings = Settings.from_credential(self.credential)
        for name in sorted(set(self.credential.extra) - _KNOWN):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        self.settings = settings
        self.connection = open_connection(
            settings.uri, settings.username, settings.password, settings.timeout
        )

    def _open_writable(self) -> tuple[libvirt.virConnect, str]:
        """A read-write connection for one action (``connect()`` is not called there)."""
        settings = Settings.from_credential(self.credential)
        connection = open_connection(
            settings.uri, settings.username, settings.password, settings.timeout, read_only=False
        )
        return connection, settings.uri

    def disconnect(self) -> None:
        """Close the connection (a lost one is already closed)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except libvirt.libvirtError as exc:
                self.logger.debug("closing %s: %s", self._uri, exc)

    def validate_connection(self) -> tuple[bool, str]:
        """Connect, name the host and its hypervisor, disconnect."""
        try:
            self.connect()
            connection = self._connection()
            try:
                found = f"{connection.getHostname()} ({connection.getType()})"
            except libvirt.libvirtError as exc:
                raise translate(exc, self._uri) from exc
        except ProviderError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.disconnect()
        return True, f"connected to {found} at {self._uri}"

    def collect(self) -> Iterator[ResourceData]:
        """The host, its networks, pools, volumes, then its domains (of a targeted
        collection: the asked types, and of the others what their edges need)."""
        connection = self._connection()
        wanted, has_domains = self._wanted, self._wanted("virtual_machine")
        try:
            host = host_resource(connection, self._uri) if wanted("hypervisor_host") else None
            host_id = host.ems_ref if host is not None else host_ems_ref(connection)
        except libvirt.libvirtError as exc:
            raise translate(exc, self._uri) from exc
        if host is not None:
            yield host
        networks: dict[str, str] = {}
        leases: dict[str, list[str]] = {}
        if has_domains or wanted("network"):
            yield from self._networks(host_id, networks, leases)
        storage = StorageIndex()
        if has_domains or wanted("storage_pool") or wanted("block_storage"):
            yield from self._storage(host_id, storage)
        if has_domains:
            yield from self._domains(host_id, networks, storage, leases)

    def _wanted(self, slug: str) -> bool:
        """Whether this collection keeps ``slug`` (a targeted one: only its types)."""
        return self.target_resource_types is None or slug in self.target_resource_types

    # -- the parts -----------------------------------------------------------------

    def _networks(
        self, host_ref: str, names: dict[str, str], leases: dict[str, list[str]]
    ) -> Iterator[ResourceData]:
        try:
            found = self._connection().listAllNetworks()
        except libvirt.libvirtError as exc:
            self._incomplete("networks", exc)
            return
        is_kept = self._wanted("network")
        for network in found:
            try:
                resource = network_resource(network, host_ref) if is_kept else None
                is_active = resource.state == "active" if resource else network.isActive()
            except libvirt.libvirtError as exc:
                self._skip_or_incomplete(f"network {network.name()}", exc)
                continue
            names[network.name()] = network.UUIDString()
            if resource is not None:
                yield resource
            if is_active:
                self._add_leases(network, leases)

    def _add_leases(self, network: libvirt.virNetwork, leases: dict[str, list[str]]) -> None:
        """Addresses are a detail of the VMs, not a part of the host: a failure to read
        them is logged and the VMs are still collected whole."""
        try:
            for mac, addresses in dhcp_leases(network).items():
                leases.setdefault(mac, []).extend(addresses)
        except libvirt.libvirtError as exc:
            if not is_unsupported(exc):
                self.logger.warning("DHCP leases of network %s: %s", network.name(), exc)

    def _storage(self, host_ref: str, index: StorageIndex) -> Iterator[ResourceData]:
        try:
            pools = self._connection().listAllStoragePools()
        except libvirt.libvirtError as exc:
            self._incomplete("storage pools", exc)
            return
        readable = []
        is_kept = self._wanted("storage_pool")
        for pool in pools:
            try:
                if is_kept:
                    resource = pool_resource(pool, host_ref, index)
                    state, word = resource.state, resource.power_state
                else:
                    index_pool(pool, index)
                    state, word = pool_state(pool.info()[0])
            except libvirt.libvirtError as exc:
                self._skip_or_incomplete(f"storage pool {pool.name()}", exc)
                continue
            if is_kept:
                yield resource
            if state == "active":
                readable.append((pool, pool.UUIDString()))
            else:
                self.logger.info(
                    "storage pool %s is %s: its volumes cannot be listed", pool.name(), word
                )
        if not (self._wanted("block_storage") or self._wanted("virtual_machine")):
            return
        for pool, pool_ref in readable:
            for volume in self._volumes(pool, pool_ref, index):
                if self._wanted("block_storage"):
                    yield volume

    def _volumes(
        self, pool: libvirt.virStoragePool, pool_ref: str, index: StorageIndex
    ) -> Iterator[ResourceData]:
        name = pool.name()
        try:
            volumes = pool.listAllVolumes()
        except libvirt.libvirtError as exc:
            self._incomplete(f"storage pool {name} volumes", exc)
            return
        for volume in volumes:
            try:
                yield volume_resource(volume, name, pool_ref, index)
            except libvirt.libvirtError as exc:
                self._skip_or_incomplete(f"volume {volume.name()} of pool {name}", exc)

    def _domains(
        self,
        host_ref: str,
        networks: Mapping[str, str],
        storage: StorageIndex,
        leases: Mapping[str, list[str]],
    ) -> Iterator[ResourceData]:
        connection = self._connection()
        try:
            states = self._domain_states(connection)
            transient = _uuids(connection, libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)
            autostart = _uuids(connection, libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)
        except libvirt.libvirtError as exc:
            self._incomplete("domains", exc)
            return
        for domain, state in states:
            uuid = domain.UUIDString()
            flags = {"persistent": uuid not in transient, "autostart": uuid in autostart}
            try:
                xml = domain.XMLDesc(0)
                flags.update(_snapshots(domain))
            except libvirt.libvirtError as exc:
                self._skip_or_incomplete(f"domain {domain.name()}", exc)
                continue
            yield domain_resource(
                xml,
                state,
                host_ref=host_ref,
                networks=networks,
                storage=storage,
                leases=leases,
                flags=flags,
            )

    @staticmethod
    def _domain_states(connection: libvirt.virConnect) -> list[tuple[libvirt.virDomain, int]]:
        """Every domain with its state code: one bulk call, or one per domain on
        drivers without ``virConnectGetAllDomainStats``."""
        try:
            stats = connection.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
        except libvirt.libvirtError as exc:
            if not is_unsupported(exc):
                raise
            return [(domain, domain.state()[0]) for domain in connection.listAllDomains()]
        return [(domain, int(values.get("state.state", 0))) for domain, values in stats]

    # -- failures --------------------------------------------------------------------

    def _incomplete(self, part: str, exc: libvirt.libvirtError) -> None:
        """One part failed: go on with the rest, unless the connection itself is gone."""
        error = translate(exc, self._uri)
        connection = self.connection
        if connection is None or not connection.isAlive():
            raise error from exc
        self.report_incomplete(part, error)

    def _skip_or_incomplete(self, part: str, exc: libvirt.libvirtError) -> None:
        """An object listed a moment ago and removed since is simply not there now."""
        if is_gone(exc):
            self.logger.info("%s was removed while it was read; skipped", part)
            return
        self._incomplete(part, exc)

    def _connection(self) -> libvirt.virConnect:
        if self.connection is None:
            raise ProviderError("collect() called before connect()")
        return self.connection

    @property
    def _uri(self) -> str:
        return self.settings.uri if self.settings is not None else str(self.credential.hostname)


def _snapshots(domain: libvirt.virDomain) -> dict[str, Any]:
    """The domain's snapshot names, parents first, and the current one; nothing when it
    has none (or the driver keeps none), so a domain without snapshots is unchanged."""
    try:
        found = domain.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
    except libvirt.libvirtError as exc:
        if is_unsupported(exc):
            return {}
        raise
    if not found:
        return {}
    names = [snapshot.getName() for snapshot in found]
    try:
        return {"snapshots": names, "current_snapshot": domain.snapshotCurrent(0).getName()}
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise
    return {"snapshots": names}


def _uuids(connection: libvirt.virConnect, flags: int) -> set[str]:
    return {domain.UUIDString() for domain in connection.listAllDomains(flags)}
