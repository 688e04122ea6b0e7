"""The clone profile on vCenter: clone a VM, list templates, make an instance of one.

A clone lands, powered off, in its source's folder and resource pool (a template's: the
root pool of its host's cluster or host). ``mode=linked`` shares the source's disks
from its current snapshot (vSphere's ``createNewChildDiskBacking``), so it needs one.
``instance_create`` clones a template (a VM marked as one) and labels the instance, as
Chatsubo does, with its ``realm``, its ``template`` and the given ``labels``: vCenter
custom attributes, which the collection shows as the VM's ``provider_tags``.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, ProviderError, Unsupported

from .machines import Acting, call, custom_fields, machine, translated, wait
from .reader import Reader
from .session import PlatformFault, Session

CLONED = ["name", "parent", "resourcePool", "runtime.host", "snapshot"]
MAX_NAME = 80  # vSphere's limit on an entity's name


def _name(params: dict[str, Any], action_name: str) -> str:
    name = params["name"].strip()
    if not name or len(name) > MAX_NAME or "/" in name:
        raise InvalidParameter(
            f"{action_name}: params.name: 1 to {MAX_NAME} characters, without '/'"
        )
    return name


def _pool(session: Session, found: Any) -> Any:
    """The resource pool a clone of ``found`` goes to: its own, or its host's root pool
    (a template has none). Two attribute reads for a template: the host's parent is a
    cluster or a standalone host's compute resource, whose type only vCenter knows."""
    pool = found.props.get("resourcePool")
    if pool:
        return vim.ResourcePool(str(pool), session.stub)
    host = found.props.get("runtime.host")
    if not host:
        raise InvalidParameter(f"{found.ref} is on no host: there is nowhere to clone it")
    owner = call(
        session, "the host's cluster", getattr, vim.HostSystem(host, session.stub), "parent"
    )
    return call(session, "the host's resource pool", getattr, owner, "resourcePool")


def _taken(session: Session, folder: Any, name: str, action_name: str) -> None:
    """Refuse a name the folder holds already (vCenter would; vcsim does not)."""
    index = session.content.searchIndex
    if call(session, "FindChild", index.FindChild, folder, name) is not None:
        raise InvalidParameter(f"{action_name}: params.name: {name!r} exists in the folder already")


def _clone(session: Session, ems_ref: str, name: str, *, linked: bool, action_name: str) -> str:
    """Clone ``ems_ref`` as ``name``, powered off; the new VM's id."""
    vm, found = machine(session, ems_ref, CLONED)
    folder = vim.Folder(str(found.props["parent"]), session.stub)
    _taken(session, folder, name, action_name)
    location = vim.vm.RelocateSpec(pool=_pool(session, found))
    spec = vim.vm.CloneSpec(location=location, powerOn=False, template=False)
    if linked:
        current = getattr(found.props.get("snapshot"), "currentSnapshot", None)
        if current is None:
            raise InvalidParameter(
                f"{action_name}: params.mode: a linked clone shares the disks of a snapshot "
                f"and {ems_ref} has none: take one (snapshot_create) or clone with mode=full"
            )
        location.diskMoveType = "createNewChildDiskBacking"
        spec.snapshot = current
    try:
        task = session.call(f"{action_name} of {ems_ref}", vm.CloneVM_Task, folder, name, spec)
        return str(wait(session, task, f"{action_name} of {ems_ref} as {name!r}"))
    except PlatformFault as exc:
        if exc.fault == "DuplicateName":
            raise InvalidParameter(
                f"{action_name}: params.name: {name!r} exists in the folder already"
            ) from None
        raise translated(exc) from None


def templates(session: Session) -> list[dict[str, Any]]:
    """Every VM marked as a template, by name (one view over the whole inventory)."""
    content = session.content
    view = call(
        session,
        "CreateContainerView",
        content.viewManager.CreateContainerView,
        content.rootFolder,
        [vim.VirtualMachine],
        True,
    )
    paths = {vim.VirtualMachine: ["name", "summary.config"]}
    found = []
    try:
        for page in Reader(session, session.settings.page_size).read(view, paths):
            for vm in page:
                config = vm.props.get("summary.config")
                if getattr(config, "template", False):
                    found.append(
                        {
                            "name": str(vm.props["name"]),
                            "ems_ref": vm.ref,
                            "guest": str(getattr(config, "guestFullName", "") or ""),
                        }
                    )
    finally:
        call(session, "DestroyView", view.DestroyView)
    return sorted(found, key=lambda template: (template["name"], template["ems_ref"]))


def label(session: Session, ems_ref: str, labels: dict[str, str]) -> None:
    """Set ``labels`` as custom attributes of the VM, defining the missing ones."""
    manager = session.content.customFieldsManager
    keys = {name: key for key, name in custom_fields(session).items()}
    vm = vim.VirtualMachine(ems_ref, session.stub)
    for name, value in labels.items():
        if name not in keys:
            define = manager.AddCustomFieldDef
            field = call(session, f"defining label {name!r}", define, name, vim.VirtualMachine)
            keys[name] = int(field.key)
        call(session, f"labelling {ems_ref}", manager.SetField, vm, keys[name], value)


class CloneActions(Acting):
    """The clone profile (mixed into the provider)."""

    @action(
        "clone",
        applies_to=["virtual_machine"],  # a template's copy: instance_create (a full refresh)
        profile="clone",
        long_running=True,
        params=[
            Param("name", required=True),
            Param("mode", default="full", choices=("full", "linked")),
        ],
    )
    def clone(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Copy the VM into a new, powered-off VM beside it."""
        name = _name(params, "clone")
        with self._acting() as session:
            linked = params["mode"] == "linked"
            new = _clone(session, ems_ref, name, linked=linked, action_name="clone")
        return {"ems_ref": new, "name": name, "mode": params["mode"], "source": ems_ref}

    @action("template_list", applies_to="provider", profile="clone", idempotent=True)
    def template_list(self, ems_ref: None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The templates instances are made from: name, id (ems_ref), guest OS."""
        with self._acting() as session:
            return templates(session)

    @action(
        "instance_create",
        applies_to="provider",
        profile="clone",
        long_running=True,
        params=[
            Param("template", required=True, description="its name or id"),
            Param("name", required=True),
            Param("realm"),
            Param("labels", "dict"),
        ],
    )
    def instance_create(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """A new VM from a template, labelled with its realm, template and labels."""
        name = _name(params, "instance_create")
        given = {str(k).strip(): str(v) for k, v in (params.get("labels") or {}).items()}
        if "" in given:
            raise InvalidParameter("instance_create: params.labels: a label needs a name")
        with self._acting() as session:
            chosen = self._template(session, params["template"])
            labels = {**given, "template": chosen["name"]}
            if params.get("realm"):
                labels["realm"] = str(params["realm"])
            if session.content.customFieldsManager is None:
                if given or params.get("realm"):
                    raise Unsupported(
                        "instance_create: an ESXi host has no custom attributes to keep "
                        "params.realm and params.labels: connect to its vCenter"
                    )
                labels = {}
            source = chosen["ems_ref"]
            new = _clone(session, source, name, linked=False, action_name="instance_create")
            try:
                label(session, new, labels)
            except ProviderError as exc:
                raise type(exc)(f"instance_create: {new} was made, not labelled: {exc}") from None
        return {"ems_ref": new, "name": name, "template": chosen["name"], "labels": labels}

    def _template(self, session: Session, wanted: str) -> dict[str, Any]:
        known = templates(session)
        for template in known:
            if wanted in (template["name"], template["ems_ref"]):
                return template
        names = ", ".join(repr(t["name"]) for t in known) or "none"
        raise InvalidParameter(
            f"instance_create: params.template: no template {wanted!r} (templates: {names})"
        )
