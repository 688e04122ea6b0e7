"""The snapshot profile on EC2 instances, with EBS snapshots (``snapshots.py`` groups them).

A revert cannot rewind a volume in place on EC2: it makes a new volume from each of
the group's snapshots (in the instance's zone, of the replaced volume's type), stops
the instance, swaps each new volume in at the device its snapshot was taken from
(keeping the old one's DeleteOnTermination), and starts the instance again if it was
running when the snapshot was taken. The replaced volumes are kept, detached and
tagged ``estate:replaced-by``, unless ``delete_replaced`` is set: a revert never
destroys data unasked. Volumes attached after the snapshot stay attached.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound

from . import snapshots
from .operations import VM, WAIT_SECONDS, InstanceActions, Target

VOLUME_WAIT_SECONDS = 900
"""How long a volume may take to be made from a snapshot, detached or attached."""
REPLACED = "estate:replaced-by"
RESTORED = "estate:restored-from"
_SIZED = {"io1", "io2", "gp3"}


class SnapshotActions(InstanceActions):
    """snapshot_create, snapshot_list, snapshot_delete, snapshot_revert and rollback."""

    def _has_snapshots(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        taken = ((resource or {}).get("properties") or {}).get("snapshots")
        return bool(taken), "" if taken else "the instance has no snapshots"

    @action(
        "snapshot_create",
        applies_to=VM,
        profile="snapshot",
        available="_exists",
        params=[Param("name", required=True), Param("description")],
    )
    def snapshot_create(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Snapshot every EBS volume of the instance at once (CreateSnapshots)."""
        name = params["name"].strip()
        if not name or len(name) > 256:
            raise InvalidParameter("snapshot_create: params.name: must be 1 to 256 characters")
        with self._opened("snapshot_create") as connection:
            target = self._find(connection, ems_ref)
            self._refuse_gone("snapshot_create", target)
            devices = _devices(target)
            if not devices:
                raise InvalidParameter(f"snapshot_create: {ems_ref} has no EBS volume")
            if any(g.name == name for g in snapshots.groups(target.client, ems_ref)):
                raise InvalidParameter(f"snapshot_create: params.name: {name!r} exists")
            tags = {
                "Name": name,
                snapshots.NAME: name,
                snapshots.INSTANCE: ems_ref,
                snapshots.POWER: target.state,
            }
            answer = target.client.create_snapshots(
                InstanceSpecification={"InstanceId": ems_ref, "ExcludeBootVolume": False},
                Description=params.get("description") or f"Estate snapshot {name} of {ems_ref}",
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(tags)}],
            )
            made = []
            for snapshot in answer.get("Snapshots", []):
                device = devices.get(snapshot["VolumeId"], {}).get("device", "")
                target.client.create_tags(
                    Resources=[snapshot["SnapshotId"]], Tags=_tags({snapshots.DEVICE: device})
                )
                made.append(
                    {
                        "device": device,
                        "volume_id": snapshot["VolumeId"],
                        "snapshot_id": snapshot["SnapshotId"],
                    }
                )
            return {"snapshot": name, "power_state": target.state, "volumes": made}

    @action("snapshot_list", applies_to=VM, profile="snapshot", idempotent=True)
    def snapshot_list(self, ems_ref: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The instance's snapshots, oldest first, each with its volumes' snapshots."""
        with self._opened("snapshot_list") as connection:
            target = self._find(connection, ems_ref)
            return [group.to_dict() for group in snapshots.groups(target.client, ems_ref)]

    @action(
        "snapshot_delete",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        params=[Param("snapshot", required=True)],
    )
    def snapshot_delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete the EBS snapshots of one named snapshot (DeleteSnapshot)."""
        with self._opened("snapshot_delete") as connection:
            target = self._find(connection, ems_ref)
            group = self._group(target, params["snapshot"])
            for piece in group.pieces:
                target.client.delete_snapshot(SnapshotId=piece.snapshot_id)
            return {"deleted": group.name, "snapshot_ids": [p.snapshot_id for p in group.pieces]}

    @action(
        "snapshot_revert",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        long_running=True,
        params=[
            Param("snapshot", required=True),
            Param("delete_replaced", "boolean", default=False, description="delete old volumes"),
        ],
    )
    def snapshot_revert(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Swap in volumes made from the snapshot; restore the power state it recorded."""
        with self._opened("snapshot_revert") as connection:
            target = self._find(connection, ems_ref)
            group = self._group(target, params["snapshot"])
            return self._revert("snapshot_revert", target, group, params["delete_replaced"])

    @action(
        "rollback",
        applies_to=VM,
        profile="snapshot",
        available="_has_snapshots",
        long_running=True,
        params=[
            Param("delete_replaced", "boolean", default=False, description="delete old volumes")
        ],
    )
    def rollback(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Revert the instance to its latest snapshot (Chatsubo's reset)."""
        with self._opened("rollback") as connection:
            target = self._find(connection, ems_ref)
            taken = snapshots.groups(target.client, ems_ref)
            if not taken:
                raise NotFound(f"rollback: {ems_ref} has no snapshot to roll back to")
            return self._revert("rollback", target, taken[-1], params["delete_replaced"])

    # -- the revert ------------------------------------------------------------------------

    def _group(self, target: Target, name: str) -> snapshots.Group:
        for group in snapshots.groups(target.client, target.id):
            if group.name == name:
                return group
        raise NotFound(f"{target.id} has no snapshot {name!r}")

    def _revert(
        self, name: str, target: Target, group: snapshots.Group, delete_replaced: bool
    ) -> dict[str, Any]:
        self._refuse_gone(name, target)
        client = target.client
        attached = {d["device"]: d for d in _devices(target).values()}
        olds = _volumes(client, [d["volume_id"] for d in attached.values()])
        zone = target.instance["Placement"]["AvailabilityZone"]
        made = {}
        for piece in group.pieces:
            old = olds.get(attached.get(piece.device, {}).get("volume_id", ""))
            made[piece.device] = _volume_from(client, piece, zone, old, group.name)
        for volume_id in made.values():
            self._volume_until(name, client, volume_id, {"available"})
        if target.state != "stopped":
            self._stop(name, target, force=False, seconds=WAIT_SECONDS)
        swapped = []
        for device, volume_id in made.items():
            old_device = attached.get(device)
            self._swap(name, target, device, old_device, volume_id)
            old_id = old_device["volume_id"] if old_device else None
            if old_id and delete_replaced:
                client.delete_volume(VolumeId=old_id)
            elif old_id:
                client.create_tags(Resources=[old_id], Tags=_tags({REPLACED: volume_id}))
            swapped.append({"device": device, "old_volume_id": old_id, "volume_id": volume_id})
        if group.power in ("running", "pending"):
            self._start(name, target)
        return {
            "reverted_to": group.name,
            "volumes": swapped,
            "deleted_replaced": delete_replaced,
            "state": target.refresh(),
        }

    def _swap(
        self, name: str, target: Target, device: str, old: dict[str, Any] | None, new: str
    ) -> None:
        """Detach ``old`` from ``device`` and attach ``new`` there (``old`` back on failure)."""
        client = target.client
        if old is not None:
            client.detach_volume(VolumeId=old["volume_id"], InstanceId=target.id, Device=device)
            self._volume_until(name, client, old["volume_id"], {"available"})
        try:
            client.attach_volume(VolumeId=new, InstanceId=target.id, Device=device)
            self._volume_until(name, client, new, {"in-use"})
        except ClientError:
            if old is not None:
                client.attach_volume(VolumeId=old["volume_id"], InstanceId=target.id, Device=device)
            raise
        if old is not None and old["delete_on_termination"]:
            client.modify_instance_attribute(
                InstanceId=target.id,
                BlockDeviceMappings=[{"DeviceName": device, "Ebs": {"DeleteOnTermination": True}}],
            )

    def _volume_until(self, name: str, client: Any, volume_id: str, wanted: set[str]) -> str:
        def read() -> str:
            (volume,) = client.describe_volumes(VolumeIds=[volume_id])["Volumes"]
            return str(volume["State"])

        return self._until(name, volume_id, read, wanted, VOLUME_WAIT_SECONDS)


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def _devices(target: Target) -> dict[str, dict[str, Any]]:
    """volume id -> its device and DeleteOnTermination, for each EBS volume attached."""
    found = {}
    for mapping in target.instance.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs")
        if ebs and ebs.get("VolumeId"):
            found[ebs["VolumeId"]] = {
                "device": mapping["DeviceName"],
                "volume_id": ebs["VolumeId"],
                "delete_on_termination": bool(ebs.get("DeleteOnTermination")),
            }
    return found


def _volumes(client: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    return {v["VolumeId"]: v for v in client.describe_volumes(VolumeIds=ids)["Volumes"]}


def _volume_from(
    client: Any, piece: snapshots.Piece, zone: str, old: dict[str, Any] | None, name: str
) -> str:
    """A new volume from ``piece``'s snapshot, like the volume it replaces; its id."""
    kept = {t["Key"]: t["Value"] for t in (old or {}).get("Tags", [])}
    tags = {k: v for k, v in kept.items() if not k.startswith(("aws:", "estate:"))}
    tags[RESTORED] = name
    params: dict[str, Any] = {
        "SnapshotId": piece.snapshot_id,
        "AvailabilityZone": zone,
        "TagSpecifications": [{"ResourceType": "volume", "Tags": _tags(tags)}],
    }
    if old is not None:
        params["VolumeType"] = old["VolumeType"]
        if old["VolumeType"] in _SIZED and old.get("Iops"):
            params["Iops"] = old["Iops"]
        if old["VolumeType"] == "gp3" and old.get("Throughput"):
            params["Throughput"] = old["Throughput"]
    return str(client.create_volume(**params)["VolumeId"])
