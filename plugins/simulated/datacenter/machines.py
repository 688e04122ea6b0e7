"""What actions changed in the simulated datacenter, kept between processes.

The generated estate is a pure function of the settings; actions change it. What they
changed is one small JSON document in the provider's state folder (``state_dir``, which
every plugin process of the provider shares), so a VM powered off by an action is
``stopped`` in the next collection, which runs in another process:

    changes    ems_ref -> the fields an action set (state, power_state, cpu_count, memory_mb)
    snapshots  ems_ref -> [{"name", "description", "fields"}], oldest first
    copies     ems_ref -> {"source", "name", "mode", "tags"}: clones and instances
    images     ems_ref -> {"name", "source", "os_type", "os_name", "size_gb"}: prepared images
    deleted    ems_refs deleted by an action

Without the service (``inventory_providers.testing``) it lives in memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from inventory_providers.base import ResourceData

MUTABLE = ("state", "power_state", "cpu_count", "memory_mb")
FILE_NAME = "machines.json"


def empty() -> dict[str, Any]:
    return {"changes": {}, "snapshots": {}, "copies": {}, "images": {}, "deleted": []}


class MachineStore:
    """Loads and saves the document; a write replaces the file whole (atomic rename)."""

    def __init__(self, folder: Path | None) -> None:
        self.path = folder / FILE_NAME if folder is not None else None
        self._memory = empty()

    def load(self) -> dict[str, Any]:
        if self.path is None:
            return json.loads(json.dumps(self._memory))
        try:
            document: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return empty()
        return {**empty(), **document}

    def save(self, document: dict[str, Any]) -> None:
        if self.path is None:
            self._memory = json.loads(json.dumps(document))
            return
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".machines-")
        with os.fdopen(fd, "w") as file:
            json.dump(document, file, sort_keys=True)
        written = Path(temporary)
        written.chmod(0o664)  # the group's: the next process may run as another plugin user
        written.replace(self.path)


def is_changed(document: dict[str, Any]) -> bool:
    return any(document[key] for key in ("changes", "copies", "images", "deleted"))


def apply(record: ResourceData, document: dict[str, Any]) -> ResourceData:
    """``record`` as the actions left it."""
    changes = document["changes"].get(record.ems_ref)
    if not changes:
        return record
    return replace(record, **{k: v for k, v in changes.items() if k in MUTABLE})


def copy_of(source: ResourceData, ems_ref: str, copy: dict[str, Any]) -> ResourceData:
    """A clone or instance of ``source``: powered off until an action starts it."""
    properties = {**source.properties, "cloned_from": copy["source"], "clone_mode": copy["mode"]}
    return replace(
        source,
        ems_ref=ems_ref,
        name=copy["name"],
        state="stopped",
        power_state="poweredOff",
        ip_addresses=[],
        mac_addresses=[],
        properties=properties,
        provider_tags={**source.provider_tags, **copy.get("tags", {})},
    )


def with_changes(
    vms: Iterator[ResourceData], document: dict[str, Any], find: Any
) -> Iterator[ResourceData]:
    """The generated VMs as the actions left them, then the copies they made.

    ``find(ems_ref)`` is the generated VM of that reference (a copy's source).
    """
    deleted = set(document["deleted"])
    for record in vms:
        if record.ems_ref not in deleted:
            yield apply(record, document)
    for ems_ref, copy in sorted(document["copies"].items()):
        source = find(copy["source"])
        if source is not None and ems_ref not in deleted:
            yield apply(copy_of(source, ems_ref, copy), document)
