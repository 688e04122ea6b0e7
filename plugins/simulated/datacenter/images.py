"""The simulated datacenter's images: the base images its templates are made from, and
the ones ``image_prepare`` made (kept in the actions' store, ``machines.py``).

Only prepared images are collected (as ``image`` resources), so the generated estate's
size is what its settings say until an action prepares one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory_providers.base import ResourceData

BASE_IMAGES = {
    "ubuntu-22.04": {"os_type": "linux", "os_name": "Ubuntu 22.04 LTS", "size_gb": 2},
    "rhel-9": {"os_type": "linux", "os_name": "Red Hat Enterprise Linux 9", "size_gb": 3},
}
"""What ``image_prepare`` may start from besides an image it prepared, or a URL."""
URL_SUFFIXES = (".qcow2", ".img", ".iso", ".raw", ".vmdk")


def listed(document: dict[str, Any]) -> list[dict[str, Any]]:
    """``image_list``'s answer: the base images, then the prepared ones."""
    base = [{"name": name, "kind": "base", **facts} for name, facts in BASE_IMAGES.items()]
    prepared = [
        {"name": image["name"], "kind": "prepared", "ems_ref": ref, "source": image["source"]}
        for ref, image in sorted(document["images"].items())
    ]
    return base + prepared


def source_facts(source: str, document: dict[str, Any]) -> dict[str, Any] | None:
    """What an image made from ``source`` is (None: no such source)."""
    if source in BASE_IMAGES:
        return dict(BASE_IMAGES[source])
    for image in document["images"].values():
        if image["name"] == source:
            return {k: image[k] for k in ("os_type", "os_name", "size_gb")}
    if source.startswith("https://") and source.lower().endswith(URL_SUFFIXES):
        return {"os_type": "unknown", "os_name": "", "size_gb": 1}
    return None


def records(document: dict[str, Any]) -> Iterator[ResourceData]:
    """The prepared images, as the collection yields them."""
    for ref, image in sorted(document["images"].items()):
        if ref in document["deleted"]:
            continue
        yield ResourceData(
            ems_ref=ref,
            resource_type_slug="image",
            name=image["name"],
            vendor_type="SimulatedImage",
            state="active",
            os_type=image["os_type"],
            os_name=image["os_name"] or None,
            disk_gb=image["size_gb"],
            properties={"source": image["source"]},
        )
