"""The simulated datacenter's lifecycle actions: core, snapshot, clone and a resize.

Each action reads the VM as the generator and earlier actions left it, changes the
store (``machines.py``) and answers what it did; the next collection shows it.
``power_on`` of a running VM (and ``power_off`` of a stopped one) succeeds and changes
nothing, as the core profile asks.
"""

from __future__ import annotations

from typing import Any

from inventory_providers.base import Param, ResourceData, action
from inventory_providers.errors import InvalidParameter, NotFound

from . import images, machines

VM = ["virtual_machine"]
TEMPLATES = {
    "ubuntu-22.04": "vm-000001",
    "rhel-9": "vm-000002",
}
"""The templates ``instance_create`` copies, and the generated VM each is made from."""


class MachineActions:
    """Mixed into the provider: needs its ``connect()``, ``settings`` and ``state_dir``."""

    settings: Any
    state_dir: Any

    def _vm_at(self, index: int) -> ResourceData | None:
        """The generated VM number ``index`` (from 0), or None; the provider's."""
        raise NotImplementedError

    # -- what the actions read and write ---------------------------------------------

    def _store(self) -> machines.MachineStore:
        store: machines.MachineStore | None = getattr(self, "_machine_store", None)
        if store is None:
            store = machines.MachineStore(self.state_dir)
            self._machine_store = store
        return store

    def _generated(self, ems_ref: str) -> ResourceData | None:
        """The VM the generator makes for ``ems_ref`` (None when it makes none)."""
        number = ems_ref.removeprefix("vm-")
        if not number.isdigit() or ems_ref != f"vm-{number}" or len(number) != 6:
            return None
        return self._vm_at(int(number) - 1)

    def _current(self, ems_ref: str, document: dict[str, Any]) -> ResourceData:
        """The VM as it is now; ``NotFound`` for one that does not exist (or was deleted)."""
        if ems_ref in document["deleted"]:
            raise NotFound(f"no virtual machine {ems_ref!r} (it was deleted)")
        copy = document["copies"].get(ems_ref)
        if copy is not None:
            source = self._generated(copy["source"])
            if source is None:
                raise NotFound(f"no virtual machine {ems_ref!r}")
            return machines.apply(machines.copy_of(source, ems_ref, copy), document)
        found = self._generated(ems_ref)
        if found is None:
            raise NotFound(f"no virtual machine {ems_ref!r}")
        return machines.apply(found, document)

    def _set(self, ems_ref: str, **fields: Any) -> dict[str, Any]:
        store = self._store()
        document = store.load()
        record = self._current(ems_ref, document)
        before = {name: getattr(record, name) for name in fields}
        if before == fields:
            return {"changed": False, **fields}
        document["changes"].setdefault(ems_ref, {}).update(fields)
        store.save(document)
        return {"changed": True, "before": before, **fields}

    def _snapshots(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        ems_ref = (resource or {}).get("ems_ref", "")
        if self._store().load()["snapshots"].get(ems_ref):
            return True, ""
        return False, "the virtual machine has no snapshots"

    def _running(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return (state == "running", "" if state == "running" else f"it is {state}, not running")

    # -- core ------------------------------------------------------------------------------

    @action("power_on", applies_to=VM, profile="core", idempotent=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Power the VM on (nothing changes when it runs)."""
        return self._set(ems_ref, state="running", power_state="poweredOn")

    @action("power_off", applies_to=VM, profile="core", idempotent=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Cut the VM's power."""
        done = self._set(ems_ref, state="stopped", power_state="poweredOff")
        if done["changed"]:
            self.publish_event("power.changed", f"{ems_ref} powered off", ems_ref=ems_ref)
        return done

    @action(
        "shutdown",
        applies_to=VM,
        profile="core",
        idempotent=True,
        params=[Param("timeout", "integer", default=300, description="seconds to wait")],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Shut the guest down gracefully."""
        if params["timeout"] < 0:
            raise InvalidParameter("shutdown: params.timeout: must be >= 0")
        return self._set(ems_ref, state="stopped", power_state="poweredOff")

    @action("reboot", applies_to=VM, profile="core", available="_running")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Restart a running VM."""
        record = self._current(ems_ref, self._store().load())
        if record.state != "running":
            raise InvalidParameter(f"reboot: {ems_ref} is {record.state}, not running")
        return {"rebooted": ems_ref}

    @action("describe", applies_to=VM, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The VM as the platform sees it now."""
        return self._current(ems_ref, self._store().load()).to_dict()

    @action("delete", applies_to=[*VM, "image"], profile="core")
    def delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete the VM, or an image ``image_prepare`` made."""
        store = self._store()
        document = store.load()
        if ems_ref in document["images"]:
            if ems_ref in document["deleted"]:
                raise NotFound(f"no image {ems_ref!r} (it was deleted)")
        else:
            self._current(ems_ref, document)
        document["deleted"].append(ems_ref)
        store.save(document)
        return {"deleted": ems_ref}

    # -- snapshot --------------------------------------------------------------------------

    @action(
        "snapshot_create",
        applies_to=VM,
        profile="snapshot",
        params=[Param("name", required=True), Param("description")],
    )
    def snapshot_create(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Record the VM's power state and size under a name."""
        store = self._store()
        document = store.load()
        record = self._current(ems_ref, document)
        taken = document["snapshots"].setdefault(ems_ref, [])
        if any(snapshot["name"] == params["name"] for snapshot in taken):
            raise InvalidParameter(f"snapshot_create: params.name: {params['name']!r} exists")
        fields = {name: getattr(record, name) for name in machines.MUTABLE}
        taken.append(
            {"name": params["name"], "description": params.get("description", ""), "fields": fields}
        )
        store.save(document)
        return {"snapshot": params["name"], "fields": fields}

    @action("snapshot_list", applies_to=VM, profile="snapshot", idempotent=True)
    def snapshot_list(self, ems_ref: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The VM's snapshots, oldest first."""
        document = self._store().load()
        self._current(ems_ref, document)
        return list(document["snapshots"].get(ems_ref, []))

    @action(
        "snapshot_revert",
        applies_to=VM,
        profile="snapshot",
        available="_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_revert(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Bring the VM back to a snapshot."""
        return self._revert(ems_ref, params["snapshot"])

    @action(
        "snapshot_delete",
        applies_to=VM,
        profile="snapshot",
        available="_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Forget a snapshot."""
        store = self._store()
        document = store.load()
        taken = document["snapshots"].get(ems_ref, [])
        kept = [snapshot for snapshot in taken if snapshot["name"] != params["snapshot"]]
        if len(kept) == len(taken):
            raise NotFound(f"{ems_ref} has no snapshot {params['snapshot']!r}")
        document["snapshots"][ems_ref] = kept
        store.save(document)
        return {"deleted": params["snapshot"]}

    @action("rollback", applies_to=VM, profile="snapshot", available="_snapshots")
    def rollback(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Revert the VM to its latest snapshot (Chatsubo's reset)."""
        taken = self._store().load()["snapshots"].get(ems_ref) or []
        if not taken:
            raise NotFound(f"{ems_ref} has no snapshot to roll back to")
        return self._revert(ems_ref, taken[-1]["name"])

    def _revert(self, ems_ref: str, name: str) -> dict[str, Any]:
        store = self._store()
        document = store.load()
        self._current(ems_ref, document)
        for snapshot in document["snapshots"].get(ems_ref, []):
            if snapshot["name"] == name:
                document["changes"][ems_ref] = dict(snapshot["fields"])
                store.save(document)
                return {"reverted_to": name, "fields": snapshot["fields"]}
        raise NotFound(f"{ems_ref} has no snapshot {name!r}")

    # -- clone -----------------------------------------------------------------------------

    @action(
        "clone",
        applies_to=VM,
        profile="clone",
        params=[
            Param("name", required=True),
            Param("mode", default="full", choices=("full", "linked")),
        ],
    )
    def clone(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Copy the VM into a new, powered-off one."""
        source = ems_ref
        store = self._store()
        document = store.load()
        current = self._current(ems_ref, document)
        if ems_ref in document["copies"]:
            source = document["copies"][ems_ref]["source"]
        copy = {"source": source, "name": params["name"], "mode": params["mode"], "tags": {}}
        new_ref = self._add_copy(document, copy)
        document["changes"][new_ref] = {
            "cpu_count": current.cpu_count,
            "memory_mb": current.memory_mb,
        }
        store.save(document)
        return {"ems_ref": new_ref, "name": params["name"], "mode": params["mode"]}

    @action("template_list", applies_to="provider", profile="clone", idempotent=True)
    def template_list(self, ems_ref: None, params: dict[str, Any]) -> list[dict[str, str]]:
        """The templates instances are made from."""
        return [{"name": name, "source": source} for name, source in TEMPLATES.items()]

    @action(
        "instance_create",
        applies_to="provider",
        profile="clone",
        params=[
            Param("template", required=True, choices=tuple(TEMPLATES)),
            Param("name", required=True),
            Param("realm"),
            Param("labels", "dict"),
        ],
    )
    def instance_create(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """A new instance of a template, labelled with its realm and template (Chatsubo)."""
        labels = {str(k): str(v) for k, v in (params.get("labels") or {}).items()}
        labels["template"] = params["template"]
        if params.get("realm"):
            labels["realm"] = params["realm"]
        store = self._store()
        document = store.load()
        source = TEMPLATES[params["template"]]
        copy = {"source": source, "name": params["name"], "mode": "full", "tags": labels}
        new_ref = self._add_copy(document, copy)
        store.save(document)
        return {"ems_ref": new_ref, "name": params["name"], "labels": labels}

    def _add_copy(self, document: dict[str, Any], copy: dict[str, Any]) -> str:
        new_ref = f"vm-copy-{len(document['copies']) + 1:04d}"
        document["copies"][new_ref] = copy
        return new_ref

    # -- image ---------------------------------------------------------------------------

    @action("image_list", applies_to="provider", profile="image", idempotent=True)
    def image_list(self, ems_ref: None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The base images, and the images prepared from them."""
        document = self._store().load()
        live = {k: v for k, v in document["images"].items() if k not in document["deleted"]}
        return images.listed({**document, "images": live})

    @action(
        "image_prepare",
        applies_to="provider",
        profile="image",
        params=[
            Param("source", required=True, description="an image of image_list, or an https URL"),
            Param("name", description="the new image's name (default: from the source)"),
        ],
    )
    def image_prepare(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """Prepare a new image from a listed image or an image file's URL."""
        store = self._store()
        document = store.load()
        live = {k: v for k, v in document["images"].items() if k not in document["deleted"]}
        facts = images.source_facts(params["source"], {**document, "images": live})
        if facts is None:
            raise InvalidParameter(
                f"image_prepare: params.source: no image {params['source']!r} (one of "
                f"{', '.join(i['name'] for i in images.listed({**document, 'images': live}))}, "
                "or an https URL of a .qcow2, .img, .iso, .raw or .vmdk file)"
            )
        name = params.get("name") or params["source"].rsplit("/", 1)[-1] + "-prepared"
        if any(i["name"] == name for i in images.listed({**document, "images": live})):
            raise InvalidParameter(f"image_prepare: params.name: {name!r} exists")
        ref = f"image-{len(document['images']) + 1:04d}"
        document["images"][ref] = {"name": name, "source": params["source"], **facts}
        store.save(document)
        return {"ems_ref": ref, "name": name, "source": params["source"]}

    # -- advanced --------------------------------------------------------------------------

    @action(
        "resize",
        applies_to=VM,
        profile="advanced",
        params=[Param("cpu", "integer"), Param("memory_mb", "integer")],
    )
    def resize(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Change the VM's CPU count and memory."""
        fields: dict[str, Any] = {}
        for name, field in (("cpu", "cpu_count"), ("memory_mb", "memory_mb")):
            if name in params:
                if params[name] < 1:
                    raise InvalidParameter(f"resize: params.{name}: must be >= 1")
                fields[field] = params[name]
        if not fields:
            raise InvalidParameter("resize: give params.cpu or params.memory_mb")
        return self._set(ems_ref, **fields)
