"""Estate's EBS snapshots of an instance: one snapshot per attached volume, grouped by name.

``snapshot_create`` snapshots every EBS volume of an instance at once (EC2
CreateSnapshots, crash-consistent across the volumes) and tags each snapshot so the
group can be found again: ``estate:snapshot`` (its name), ``estate:instance``,
``estate:device`` (where the volume was attached) and ``estate:power`` (the instance's
state then, restored by a revert). Snapshots without these tags are not Estate's and
are left alone. The collection stores each instance's snapshot names in its
``properties["snapshots"]`` (oldest first), which ``available`` checks read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .common import Scope, iso, pages, tags_of
from .failures import DENIED_CODES, code_of

__all__ = ["Group", "Piece", "by_instance", "groups", "names_by_instance"]

logger = logging.getLogger(__name__)

NAME = "estate:snapshot"
INSTANCE = "estate:instance"
DEVICE = "estate:device"
POWER = "estate:power"


@dataclass(frozen=True, slots=True)
class Piece:
    """One volume's snapshot within a group."""

    device: str
    volume_id: str
    snapshot_id: str
    state: str
    size_gb: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "volume_id": self.volume_id,
            "snapshot_id": self.snapshot_id,
            "state": self.state,
            "size_gb": self.size_gb,
        }


@dataclass(slots=True)
class Group:
    """One named snapshot of an instance: its volumes' snapshots."""

    name: str
    description: str
    created: str
    power: str
    pieces: list[Piece] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "power_state": self.power,
            "volumes": [piece.to_dict() for piece in self.pieces],
        }


def _read(client: Any, scope: Scope | None, filters: list[dict[str, Any]]) -> Iterator[Any]:
    params = {"OwnerIds": ["self"], "Filters": filters}
    if scope is None:
        paginator = client.get_paginator("describe_snapshots")
        for page in paginator.paginate(**params):
            yield from page.get("Snapshots", [])
        return
    for page in pages(client, "describe_snapshots", scope, most=1000, least=5, **params):
        yield from page.get("Snapshots", [])


def by_instance(snapshots: Iterator[Any]) -> dict[str, list[Group]]:
    """instance id -> its groups, oldest first (by the earliest of their snapshots)."""
    found: dict[str, dict[str, Group]] = {}
    for snapshot in sorted(snapshots, key=lambda s: iso(s.get("StartTime")) or ""):
        tags = tags_of(snapshot.get("Tags"))
        if not tags.get(NAME) or not tags.get(INSTANCE):
            continue
        named = found.setdefault(tags[INSTANCE], {})
        group = named.get(tags[NAME])
        if group is None:
            group = named[tags[NAME]] = Group(
                name=tags[NAME],
                description=snapshot.get("Description") or "",
                created=iso(snapshot.get("StartTime")) or "",
                power=tags.get(POWER, ""),
            )
        group.pieces.append(
            Piece(
                device=tags.get(DEVICE, ""),
                volume_id=snapshot.get("VolumeId", ""),
                snapshot_id=snapshot["SnapshotId"],
                state=snapshot.get("State", ""),
                size_gb=snapshot.get("VolumeSize"),
            )
        )
    return {instance: list(named.values()) for instance, named in found.items()}


def groups(client: Any, instance_id: str) -> list[Group]:
    """The Estate snapshots of one instance, oldest first."""
    filters = [{"Name": f"tag:{INSTANCE}", "Values": [instance_id]}]
    return by_instance(_read(client, None, filters)).get(instance_id, [])


def names_by_instance(client: Any, scope: Scope) -> dict[str, list[str]]:
    """instance id -> the names of its Estate snapshots, for the collection.

    Without ec2:DescribeSnapshots every run alike stores no names (as for the sizes
    in compute.py), so the history records no change for them.
    """
    filters = [{"Name": "tag-key", "Values": [NAME]}]
    try:
        found = by_instance(_read(client, scope, filters))
    except ClientError as exc:
        if code_of(exc) not in DENIED_CODES:
            raise
        logger.warning("instance snapshots unknown: %s; grant ec2:DescribeSnapshots", exc)
        return {}
    return {instance: [g.name for g in named] for instance, named in found.items()}
