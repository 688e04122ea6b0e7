"""Bulk reads through vCenter's PropertyCollector: whole pages, never one call per object.

Everything is read with ``RetrievePropertiesEx`` and ``ContinueRetrievePropertiesEx``,
``page_size`` objects a page, over a ``ContainerView`` of a datacenter (or a traversal
of the folder tree for the datacenters themselves). The round trips grow with pages and
datacenters, not with VMs. References to other managed objects in the answers become
their ids here, so nothing downstream can touch a pyVmomi managed object's attribute:
each such read is one more round trip per object, the lazy walk this module exists to
avoid (and a walk up the tree ends by asking the root folder for its ``parent``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from inventory_providers.errors import ProviderError

from .session import Session

Collector = vmodl.query.PropertyCollector


@dataclass(slots=True)
class Found:
    """One managed object as the PropertyCollector answered it."""

    kind: str  # the vSphere type: "VirtualMachine", "ClusterComputeResource", …
    ref: str  # the managed object id: "vm-42"
    props: dict[str, Any]  # property path → value; references are ids
    missing: tuple[str, ...] = ()  # paths vCenter would not give (NoPermission, …)


class Reader:
    """Reads pages of objects over one session; ``missing`` counts refused properties."""

    def __init__(self, session: Session, page_size: int) -> None:
        self.session = session
        self.content = session.content
        self.options = Collector.RetrieveOptions(maxObjects=page_size)
        self.missing = 0

    def datacenters(self) -> tuple[list[Found], dict[int, str]]:
        """Every datacenter (through nested folders) and the custom attribute names by
        key, in one round trip (plus pages)."""
        folders = Collector.TraversalSpec(
            name="folders",
            type=vim.Folder,
            path="childEntity",
            skip=False,
            selectSet=[Collector.SelectionSpec(name="folders")],
        )
        objects = [Collector.ObjectSpec(obj=self.content.rootFolder, selectSet=[folders])]
        props = [Collector.PropertySpec(type=vim.Datacenter, pathSet=["name", "overallStatus"])]
        if self.content.customFieldsManager is not None:
            objects.append(Collector.ObjectSpec(obj=self.content.customFieldsManager))
            props.append(Collector.PropertySpec(type=vim.CustomFieldsManager, pathSet=["field"]))
        spec = Collector.FilterSpec(objectSet=objects, propSet=props)
        datacenters: list[Found] = []
        fields: dict[int, str] = {}
        for page in self.pages(spec):
            for found in page:
                if found.kind == "CustomFieldsManager":
                    fields = {int(f.key): str(f.name) for f in found.props.get("field") or ()}
                elif "name" in found.props:
                    datacenters.append(found)
        return datacenters, fields

    @contextlib.contextmanager
    def view(self, datacenter: str, types: Sequence[type]) -> Iterator[Any]:
        """A recursive ``ContainerView`` of ``types`` under the datacenter, destroyed after."""
        container = vim.Datacenter(datacenter, self.session.stub)  # an id: no round trip
        manager = self.content.viewManager
        view = self.session.call(
            "CreateContainerView", manager.CreateContainerView, container, list(types), True
        )
        try:
            yield view
        finally:
            with contextlib.suppress(ProviderError):
                self.session.call("DestroyView", view.DestroyView)

    def read(self, view: Any, paths: Mapping[type, Sequence[str]]) -> Iterator[list[Found]]:
        """Pages of the view's objects of the types in ``paths``, with those properties."""
        traverse = Collector.TraversalSpec(
            name="view", type=vim.view.ContainerView, path="view", skip=False
        )
        spec = Collector.FilterSpec(
            objectSet=[Collector.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[Collector.PropertySpec(type=t, pathSet=list(p)) for t, p in paths.items()],
        )
        return self.pages(spec)

    def pages(self, spec: Any) -> Iterator[list[Found]]:
        """``RetrievePropertiesEx``, then ``ContinueRetrievePropertiesEx`` while a token
        comes back; a reader that stops early cancels the rest on the server."""
        collector = self.content.propertyCollector
        call = self.session.call
        result = call("RetrievePropertiesEx", collector.RetrievePropertiesEx, [spec], self.options)
        token = None
        try:
            while result is not None:
                token = result.token
                yield [self._found(content) for content in result.objects]
                if not token:
                    break
                result = call(
                    "ContinueRetrievePropertiesEx", collector.ContinueRetrievePropertiesEx, token
                )
            token = None
        finally:
            if token:
                with contextlib.suppress(ProviderError):
                    call("CancelRetrievePropertiesEx", collector.CancelRetrievePropertiesEx, token)

    def _found(self, content: Any) -> Found:
        props = {prop.name: _plain(prop.val) for prop in content.propSet}
        missing = tuple(str(m.path) for m in content.missingSet)
        self.missing += bool(missing)
        obj = content.obj
        return Found(str(obj._wsdlName), str(obj._moId), props, missing)


def _plain(value: Any) -> Any:
    """A managed object becomes its id, a list of them a list of ids; data stays."""
    if isinstance(value, vim.ManagedObject):
        return str(value._moId)
    if isinstance(value, list) and value and isinstance(value[0], vim.ManagedObject):
        return [str(item._moId) for item in value]
    return value
