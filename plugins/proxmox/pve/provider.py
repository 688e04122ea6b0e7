"""Proxmox VE through proxmoxer: the cluster, its nodes, storages and guests.

Reads, for a cluster of any size:
    /version                        once, at login (an API token is checked here)
    /cluster/status                 the cluster and its members' addresses
    /cluster/resources              every node, storage and guest, in one call
    /nodes/N/{qemu,lxc}/ID/config   once per guest: notes (Chatsubo's labels) and disks
    /nodes/N/{qemu,lxc}/ID/snapshot once per guest whose config names a parent snapshot

PVE has no bulk read of guest configs (``/nodes/N/qemu`` lists status, not notes), so
the configs are read a few at a time in parallel, which pveproxy's workers serve
side by side. A node that is offline, or whose reads fail, is reported incomplete
(``report_incomplete``): the run ends partial and nothing is marked deleted.

A targeted collection reads only what its types need: of guests alone, no
``/cluster/status`` and no config of a guest the listing marks as another type (a
template when only VMs are asked); the records are those of a full collection.

The actions (core, snapshot and clone profiles) are mixed in from ``power.py``,
``snapshots.py`` and ``cloning.py``; each logs in for itself (``guests.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from proxmoxer import ProxmoxAPI, ResourceException

from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidConfig, ProviderError

from . import client, mapping
from .cloning import CloneActions
from .power import PowerActions
from .settings import KNOWN, Settings
from .snapshots import SnapshotActions

CONFIG_READERS = 4  # parallel config reads: pveproxy runs 3 workers by default
GUEST_TYPES = ("qemu", "lxc")
GuestRead = tuple[dict[str, Any], list[dict[str, Any]] | None]  # config, snapshots


class GuestGone(Exception):
    """The guest was deleted between the listing and the read of its config."""


class ProxmoxProvider(PowerActions, SnapshotActions, CloneActions, BaseProvider):
    """A Proxmox VE cluster or standalone node; its guests' actions are in ``power.py``
    (core), ``snapshots.py`` and ``cloning.py``."""

    vendor = "proxmox"
    provider_type = "pve"
    display_name = "Proxmox VE"
    supported_resource_types = [
        "virtual_machine",
        "template",
        "hypervisor_host",
        "storage_pool",
        "cluster",
    ]

    settings: Settings | None = None
    api: ProxmoxAPI | None = None
    version: str = ""

    def connect(self) -> None:
        """Check the parameters and log in (a ticket, or the API token checked)."""
        self.settings = Settings.read(self.credential, _public_config(self.provider_model))
        for name in sorted(set(self.credential.extra) - KNOWN):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        if not self.settings.verify_ssl:
            self.logger.warning(
                "TLS certificate of %s not verified (verify_ssl: false)", self.settings.url
            )
        self.api, self.version = client.open_api(self.settings)

    def disconnect(self) -> None:
        """Forget the session (a PVE ticket simply expires)."""
        self.api = None

    def validate_connection(self) -> tuple[bool, str]:
        """Log in, and check that the nodes named in ``nodes`` exist."""
        try:
            self.connect()
            settings, api = self._session()
            if settings.nodes:
                names = [entry["node"] for entry in client.get(api.nodes, settings)]
                _check_nodes(settings.nodes, names)
        except ProviderError as exc:
            return False, f"{exc.kind}: {exc}"
        finally:
            self.disconnect()
        return True, f"logged in to Proxmox VE {self.version} at {settings.url} as {settings.user}"

    def collect(self) -> Iterator[ResourceData]:
        """The cluster, nodes, storages, then guests as their configs arrive (of a
        targeted collection: only the asked types, and only the reads they need)."""
        settings, api = self._session()
        started = time.perf_counter()
        wanted = self._wanted
        is_status_needed = wanted("cluster") or wanted("hypervisor_host")  # members
        members = client.get(api.cluster.status, settings) if is_status_needed else []
        listing = client.get(api.cluster.resources, settings)
        nodes = [entry for entry in listing if entry.get("type") == "node"]
        if settings.nodes:
            _check_nodes(settings.nodes, [entry["node"] for entry in nodes])
        scope = set(settings.nodes) or {entry["node"] for entry in nodes}
        cluster = next((m for m in members if m.get("type") == "cluster"), None)
        cluster_name = cluster["name"] if cluster else None
        by_name = {m.get("name"): m for m in members if m.get("type") == "node"}
        if cluster is not None and wanted("cluster"):
            yield mapping.cluster(cluster, self.version or None)
        readable = set()
        for entry in (n for n in nodes if n["node"] in scope):
            if wanted("hypervisor_host"):
                yield mapping.node(entry, by_name.get(entry["node"]), cluster_name)
            if entry.get("status") == "online":
                readable.add(entry["node"])
            else:  # PVE lists its guests as "unknown" and cannot read their configs
                status = entry.get("status") or "unknown"
                self.report_incomplete(
                    f"node {entry['node']}", f"the node is {status}; its guests were not read"
                )
        for entry in listing:
            if (
                entry.get("type") == "storage"
                and entry.get("node") in scope
                and wanted("storage_pool")
            ):
                yield mapping.storage(entry)
        guests = [g for g in listing if g.get("type") in GUEST_TYPES and g.get("node") in readable]
        guests = [g for g in guests if self._may_be_wanted(g)]
        count = 0
        for resource in self._guests(api, settings, guests):
            if wanted(resource.resource_type_slug):
                count += 1
                yield resource
        self.logger.info(
            "read %d of %d guests on %d node(s) in %.2f s",
            count, len(guests), len(readable), time.perf_counter() - started,
        )  # fmt: skip

    def _wanted(self, slug: str) -> bool:
        """Whether this collection keeps ``slug`` (a targeted one: only its types)."""
        return self.target_resource_types is None or slug in self.target_resource_types

    def _may_be_wanted(self, entry: dict[str, Any]) -> bool:
        """Whether a listed guest's config is worth reading: a template when templates
        are asked, any other guest when VMs or templates are (its config may say
        ``template``, which the listing shows too, but the mapping reads both)."""
        if entry.get("template"):
            return self._wanted("template")
        return self._wanted("virtual_machine") or self._wanted("template")

    def _session(self) -> tuple[Settings, ProxmoxAPI]:
        if self.settings is None or self.api is None:
            raise ProviderError("not connected: connect() first")
        return self.settings, self.api

    def _guests(
        self, api: ProxmoxAPI, settings: Settings, guests: list[dict[str, Any]]
    ) -> Iterator[ResourceData]:
        """Each guest with its config, read ``CONFIG_READERS`` at a time, in listing order."""
        pool = ThreadPoolExecutor(CONFIG_READERS, thread_name_prefix="pve-config")
        failed: set[str] = set()
        try:
            reads = [(g, pool.submit(_read_config, api, g)) for g in guests]
            for entry, future in reads:
                if self.canceled:
                    return
                read = self._config_of(entry, future, failed, settings)
                if read is not None:
                    yield mapping.guest(entry, *read)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _config_of(
        self,
        entry: dict[str, Any],
        future: Future[GuestRead],
        failed: set[str],
        settings: Settings,
    ) -> GuestRead | None:
        node = entry["node"]
        if node in failed:
            future.cancel()
            return None
        try:
            return future.result()
        except GuestGone:
            self.logger.debug("%s went away while it was read", entry["id"])
            return None
        except Exception as exc:  # any failure of one node's reads leaves the others readable
            error = client.translate(exc, settings)
            if error.kind == "unauthenticated":
                raise error from exc
            failed.add(node)
            self.report_incomplete(f"node {node}", f"reading {entry['id']}: {error}")
            return None


def _read_config(api: ProxmoxAPI, entry: dict[str, Any]) -> GuestRead:
    """The guest's config, and its snapshots when the config names a parent (a guest
    without one has none, but for a rare case: see docs/providers/proxmox:pve.md)."""
    path = api.nodes(entry["node"])(entry["type"])(entry["vmid"])
    try:
        config: dict[str, Any] = client.retried(path.config.get)
        snapshots = client.retried(path.snapshot.get) if config.get("parent") else None
    except ResourceException as exc:
        if exc.status_code == 500 and "does not exist" in str(exc.content):
            raise GuestGone(entry["id"]) from exc
        raise
    return config, snapshots


def _check_nodes(wanted: tuple[str, ...], present: list[str]) -> None:
    missing = [name for name in wanted if name not in present]
    if missing:
        raise InvalidConfig(
            f"connection_config.nodes: {', '.join(missing)} not in the cluster "
            f"(its nodes: {', '.join(sorted(present)) or 'none'})"
        )


def _public_config(provider_model: Any) -> Mapping[str, Any] | None:
    """The provider's ``connection_config`` as the service shows it (secrets masked),
    or None when the host gave no provider record."""
    config = getattr(provider_model, "connection_config", None)
    if config is None and isinstance(provider_model, Mapping):
        config = provider_model.get("connection_config")
    return config if isinstance(config, Mapping) else None
