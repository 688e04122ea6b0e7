"""VMware vCenter (vmware:vcenter): the inventory of a vCenter Server through pyVmomi.

Connects with seed 000's payload (``endpoint`` = host; ``username``, ``password``,
``port``, ``verify_ssl``) and reads every datacenter through the PropertyCollector:
one folder traversal lists the datacenters, then each datacenter is one container
view read in pages, so a collection costs a handful of round trips per datacenter
whatever the number of VMs. A datacenter that cannot be read is reported incomplete
(the run ends partial, nothing is deleted) while the others are collected. A targeted
collection reads only what its types need (``inventory.Plan``): for VMs, the VMs and
the names of their hosts, pools and clusters.

Actions (profiles core, snapshot and clone) each log in for themselves: they run in the
provider's long-lived process, where ``connect()`` is never called.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import NotFound, ProviderError

from . import mapping
from .actions import PowerActions
from .clones import CloneActions
from .inventory import MACHINES, Datacenter, Plan
from .reader import Found, Reader
from .session import PlatformFault, Session, close_session, open_session
from .settings import KNOWN_EXTRA, Settings
from .snapshots import SnapshotActions


class VCenterProvider(PowerActions, SnapshotActions, CloneActions, BaseProvider):
    """Datacenters, clusters, ESXi hosts, resource pools, datastores, networks, switches,
    VMs and templates of one vCenter Server (or ESXi host); its VMs' lifecycle actions
    (``actions.py``, ``snapshots.py``, ``clones.py``)."""

    vendor = "vmware"
    provider_type = "vcenter"
    display_name = "VMware vCenter"
    supported_resource_types = [
        "virtual_machine",
        "template",
        "hypervisor_host",
        "container_orchestration_platform",
        "auto_scaling_group",
        "block_storage",
        "network",
        "virtual_switch",
        "datacenter",
    ]

    session: Session | None = None

    def connect(self) -> None:
        """Check the settings, then log in (``InvalidConfig``, ``Unauthenticated``,
        ``Unreachable`` say what is wrong)."""
        settings = Settings.from_credential(self.credential)
        for name in sorted(set(self.credential.extra) - KNOWN_EXTRA):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        self.session = open_session(settings, self.logger)

    def disconnect(self) -> None:
        """Log out."""
        if self.session is not None:
            close_session(self.session)
            self.session = None

    def validate_connection(self) -> tuple[bool, str]:
        """Log in and out; the message names the server and its version."""
        try:
            self.connect()
            about = self._session().content.about
            where = self._session().settings.where
            return True, f"logged in to {about.fullName} (API {about.apiVersion}) at {where}"
        except ProviderError as exc:
            return False, f"{exc.kind}: {exc}"
        finally:
            self.disconnect()

    def collect(self) -> Iterator[ResourceData]:
        """The datacenters first, then each datacenter's infrastructure and its VMs
        (of a targeted collection: only the asked types, read as ``Plan`` says)."""
        session = self._session()
        started = time.perf_counter()
        reader = Reader(session, session.settings.page_size)
        found, fields = reader.datacenters()
        chosen = self._chosen(found)
        plan = Plan.of(self.target_resource_types)
        seen: set[str] = set()  # a VM moved between two datacenters' reads is seen twice
        for datacenter in chosen:
            seen.add(datacenter.ref)
            if self._wanted("datacenter"):
                yield mapping.datacenter(datacenter)
        for datacenter in chosen:
            if self.canceled:
                return
            if not plan.view_types:  # only datacenters asked: they are read already
                break
            name = str(datacenter.props["name"])
            dc = Datacenter(datacenter.ref, name, fields)
            try:
                for resource in self._datacenter(reader, dc, plan):
                    if resource.ems_ref not in seen and self._wanted(resource.resource_type_slug):
                        seen.add(resource.ems_ref)
                        yield resource
            except PlatformFault as exc:
                self.report_incomplete(f"datacenter {name}", exc)
        if reader.missing:
            self.logger.warning(
                "vCenter withheld some properties of %d objects (see the user's privileges)",
                reader.missing,
            )
        self.logger.info(
            "collected %d resources from %d datacenters in %.2f s (%d round trips so far)",
            len(seen),
            len(chosen),
            time.perf_counter() - started,
            session.round_trips,
        )

    def _datacenter(self, reader: Reader, dc: Datacenter, plan: Plan) -> Iterator[ResourceData]:
        with reader.view(dc.ref, plan.view_types) as view:
            infrastructure: list[Found] = []
            if plan.infrastructure:
                for page in reader.read(view, plan.infrastructure):
                    infrastructure += page
            dc.learn(infrastructure)
            if plan.keeps_infrastructure:
                yield from mapping.resources(infrastructure, dc)
            del infrastructure
            if plan.has_machines:
                for page in reader.read(view, MACHINES):
                    yield from mapping.resources(page, dc)

    def _wanted(self, slug: str) -> bool:
        """Whether this collection keeps ``slug`` (a targeted one: only its types)."""
        return self.target_resource_types is None or slug in self.target_resource_types

    def _chosen(self, found: list[Found]) -> list[Found]:
        """The datacenters the ``datacenters`` parameter names (all when it is empty);
        a named one that is missing is reported incomplete, all missing is an error."""
        wanted = self._session().settings.datacenters
        if not wanted:
            return found
        by_name = {str(dc.props["name"]): dc for dc in found}
        missing = [name for name in wanted if name not in by_name]
        if len(missing) == len(wanted):
            known = ", ".join(sorted(by_name)) or "none"
            raise NotFound(
                f"none of the datacenters {', '.join(wanted)} exists on the vCenter "
                f"(it has: {known}); fix connection_config.datacenters"
            )
        for name in missing:
            self.report_incomplete(
                f"datacenter {name}",
                "not found on the vCenter (renamed or removed?); fix "
                "connection_config.datacenters if it is gone for good",
            )
        return [by_name[name] for name in wanted if name in by_name]

    def _session(self) -> Session:
        if self.session is None:
            raise ProviderError("collect() called before connect()")
        return self.session
