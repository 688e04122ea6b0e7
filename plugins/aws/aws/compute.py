"""EC2 instances, EBS volumes and Auto Scaling groups as resources.

Resource type mapping (the AWS object each comes from) and the edges each carries:
    EC2 Instance           virtual_machine      member_of VPC, subnet, security groups, ASG
                                                (properties["snapshots"]: Estate's snapshot names)
    EBS Volume             block_storage        attached_to each instance it is attached to
    Auto Scaling group     auto_scaling_group   member_of its subnets
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from inventory_providers.base import ResourceData

from . import snapshots, states
from .common import Scope, compact, edges, iso, member_of, name_of, pages, tags_of
from .failures import DENIED_CODES, code_of

__all__ = ["auto_scaling_groups", "instance_record", "instances", "volumes"]

logger = logging.getLogger(__name__)

INSTANCE_TYPES_PER_CALL = 100


def auto_scaling_groups(client: Any, scope: Scope) -> Iterator[ResourceData]:
    """Every Auto Scaling group; remembers each member instance for the instance mapper."""
    for page in pages(client, "describe_auto_scaling_groups", scope, most=100):
        for group in page.get("AutoScalingGroups", []):
            arn = group["AutoScalingGroupARN"]
            for member in group.get("Instances", []):
                scope.asg_by_instance[member["InstanceId"]] = arn
            yield _group(group, scope)


def _group(group: Mapping[str, Any], scope: Scope) -> ResourceData:
    subnets = [s for s in (group.get("VPCZoneIdentifier") or "").split(",") if s]
    template = group.get("LaunchTemplate") or {}
    status = group.get("Status")
    return ResourceData(
        ems_ref=group["AutoScalingGroupARN"],
        resource_type_slug="auto_scaling_group",
        name=group["AutoScalingGroupName"],
        canonical_id=group["AutoScalingGroupARN"],
        vendor_type="AWS::AutoScaling::AutoScalingGroup",
        state="decommissioned" if status else "active",
        region=scope.region,
        cloud_tenant=scope.account,
        ems_created_on=iso(group.get("CreatedTime")),
        provider_tags=tags_of(group.get("Tags")),
        properties=compact(
            {
                "state": status,
                "min_size": group.get("MinSize"),
                "max_size": group.get("MaxSize"),
                "desired_capacity": group.get("DesiredCapacity"),
                "launch_configuration": group.get("LaunchConfigurationName"),
                "launch_template": compact(
                    {
                        "id": template.get("LaunchTemplateId"),
                        "name": template.get("LaunchTemplateName"),
                        "version": template.get("Version"),
                    }
                ),
                "health_check_type": group.get("HealthCheckType"),
                "health_check_grace_period": group.get("HealthCheckGracePeriod"),
                "availability_zones": group.get("AvailabilityZones"),
                "subnets": subnets,
                "target_group_arns": group.get("TargetGroupARNs"),
                "load_balancer_names": group.get("LoadBalancerNames"),
            }
        ),
        relationships=member_of(*subnets),
    )


def instances(client: Any, scope: Scope) -> Iterator[ResourceData]:
    """Every EC2 instance, terminated ones included while AWS still lists them."""
    sizes = _Sizes(client)
    taken: dict[str, list[str]] | None = None  # asked once there is an instance
    for page in pages(client, "describe_instances", scope, most=1000, least=5):
        found = [
            (reservation, instance)
            for reservation in page.get("Reservations", [])
            for instance in reservation.get("Instances", [])
        ]
        sizes.learn({i["InstanceType"] for _, i in found})
        if found and taken is None:
            taken = snapshots.names_by_instance(client, scope)
        for reservation, instance in found:
            size = sizes.of(instance["InstanceType"])
            names = (taken or {}).get(instance["InstanceId"])
            yield _instance(instance, reservation, size, scope, names)


def instance_record(
    client: Any,
    scope: Scope,
    instance: Mapping[str, Any],
    reservation: Mapping[str, Any],
    taken: list[str],
) -> ResourceData:
    """One instance as the collection maps it (``taken``: its snapshot names)."""
    sizes = _Sizes(client)
    sizes.learn({instance["InstanceType"]})
    return _instance(instance, reservation, sizes.of(instance["InstanceType"]), scope, taken)


class _Sizes:
    """vCPUs and MiB of memory of each instance type (DescribeInstanceTypes), asked once.

    Without ec2:DescribeInstanceTypes the sizes stay unknown in every run alike, so the
    history records no change for them; a type AWS no longer describes is unknown too.
    Any other failure fails the instances of the region (a part), as a failed
    DescribeInstances would.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.known: dict[str, tuple[int | None, int | None]] = {}
        self.denied = False

    def of(self, kind: str) -> tuple[int | None, int | None]:
        return self.known.get(kind, (None, None))

    def learn(self, wanted: set[str]) -> None:
        ordered = sorted(wanted - set(self.known))
        for start in range(0, len(ordered), INSTANCE_TYPES_PER_CALL):
            if self.denied:
                return
            self._ask(ordered[start : start + INSTANCE_TYPES_PER_CALL])

    def _ask(self, chunk: list[str]) -> None:
        try:
            answer = self.client.describe_instance_types(InstanceTypes=chunk)
        except ClientError as exc:
            code = code_of(exc)
            if code in DENIED_CODES:
                self.denied = True
                logger.warning(
                    "instance sizes unknown: %s; grant ec2:DescribeInstanceTypes to collect "
                    "cpu_count and memory_mb",
                    exc,
                )
            elif code != "InvalidInstanceType":
                raise
            elif len(chunk) > 1:  # one unknown type refuses the whole call: ask one by one
                for kind in chunk:
                    self._ask([kind])
            return
        for kind in answer.get("InstanceTypes", []):
            self.known[kind["InstanceType"]] = (
                kind.get("VCpuInfo", {}).get("DefaultVCpus"),
                kind.get("MemoryInfo", {}).get("SizeInMiB"),
            )
        for kind in chunk:
            self.known.setdefault(kind, (None, None))


def _instance(
    instance: Mapping[str, Any],
    reservation: Mapping[str, Any],
    size: tuple[int | None, int | None] | None,
    scope: Scope,
    taken: list[str] | None = None,
) -> ResourceData:
    instance_id = instance["InstanceId"]
    tags = tags_of(instance.get("Tags"))
    word = instance.get("State", {}).get("Name")
    interfaces = instance.get("NetworkInterfaces", [])
    groups = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
    groups += [g["GroupId"] for eni in interfaces for g in eni.get("Groups", [])]
    cpus, memory = size or (None, None)
    options = instance.get("CpuOptions") or {}
    if options.get("CoreCount") and options.get("ThreadsPerCore"):
        cpus = options["CoreCount"] * options["ThreadsPerCore"]
    windows = instance.get("Platform") == "windows"
    public_ip = instance.get("PublicIpAddress")
    return ResourceData(
        ems_ref=instance_id,
        resource_type_slug="virtual_machine",
        name=name_of(tags, instance_id),
        canonical_id=scope.arn("ec2", f"instance/{instance_id}"),
        vendor_identifiers=compact(
            {"instance_id": instance_id, "reservation_id": reservation.get("ReservationId")}
        ),
        vendor_type="AWS::EC2::Instance",
        state=states.mapped(states.INSTANCE, word),
        power_state=word,
        boot_time=iso(instance.get("LaunchTime")),
        region=scope.region,
        availability_zone=instance.get("Placement", {}).get("AvailabilityZone"),
        cloud_tenant=reservation.get("OwnerId") or scope.account,
        flavor=instance.get("InstanceType"),
        cpu_count=cpus,
        memory_mb=memory,
        ip_addresses=_addresses(instance, interfaces),
        mac_addresses=list(
            dict.fromkeys(e["MacAddress"] for e in interfaces if e.get("MacAddress"))
        ),
        fqdn=instance.get("PublicDnsName") or instance.get("PrivateDnsName") or None,
        os_type="windows" if windows else "linux",
        os_name=instance.get("PlatformDetails"),
        ansible_host=public_ip or instance.get("PrivateIpAddress"),
        provider_tags=tags,
        properties=_instance_properties(instance, word, groups, taken),
        relationships=member_of(
            instance.get("VpcId"),
            instance.get("SubnetId"),
            *groups,
            scope.asg_by_instance.get(instance_id),
        ),
    )


def _addresses(instance: Mapping[str, Any], interfaces: Iterable[Mapping[str, Any]]) -> list[str]:
    found = [instance.get("PrivateIpAddress"), instance.get("PublicIpAddress")]
    for eni in interfaces:
        for address in eni.get("PrivateIpAddresses", []):
            found.append(address.get("PrivateIpAddress"))
            found.append(address.get("Association", {}).get("PublicIp"))
        found += [a.get("Ipv6Address") for a in eni.get("Ipv6Addresses", [])]
    return [a for a in dict.fromkeys(found) if a]


def _instance_properties(
    instance: Mapping[str, Any], word: str | None, groups: list[str], taken: list[str] | None
) -> dict[str, Any]:
    placement = instance.get("Placement", {})
    reason = instance.get("StateReason") or {}
    return compact(
        {
            "state": word,
            "state_reason": reason.get("Message"),
            "state_transition_reason": instance.get("StateTransitionReason"),
            "image_id": instance.get("ImageId"),
            "key_name": instance.get("KeyName"),
            "architecture": instance.get("Architecture"),
            "hypervisor": instance.get("Hypervisor"),
            "virtualization_type": instance.get("VirtualizationType"),
            "platform": instance.get("Platform"),
            "lifecycle": instance.get("InstanceLifecycle") or "on-demand",
            "tenancy": placement.get("Tenancy"),
            "placement_group": placement.get("GroupName"),
            "monitoring": instance.get("Monitoring", {}).get("State"),
            "ebs_optimized": instance.get("EbsOptimized"),
            "ena_support": instance.get("EnaSupport"),
            "root_device_type": instance.get("RootDeviceType"),
            "root_device_name": instance.get("RootDeviceName"),
            "iam_instance_profile": (instance.get("IamInstanceProfile") or {}).get("Arn"),
            "vpc_id": instance.get("VpcId"),
            "subnet_id": instance.get("SubnetId"),
            "security_groups": list(dict.fromkeys(groups)),
            "private_dns_name": instance.get("PrivateDnsName"),
            "public_dns_name": instance.get("PublicDnsName"),
            "block_devices": [
                compact(
                    {"device": d.get("DeviceName"), "volume_id": d.get("Ebs", {}).get("VolumeId")}
                )
                for d in instance.get("BlockDeviceMappings", [])
            ],
            "metadata_http_tokens": (instance.get("MetadataOptions") or {}).get("HttpTokens"),
            "snapshots": taken,
        }
    )


def volumes(client: Any, scope: Scope) -> Iterator[ResourceData]:
    """Every EBS volume."""
    for page in pages(client, "describe_volumes", scope, most=500, least=5):
        for volume in page.get("Volumes", []):
            yield _volume(volume, scope)


def _volume(volume: Mapping[str, Any], scope: Scope) -> ResourceData:
    volume_id = volume["VolumeId"]
    tags = tags_of(volume.get("Tags"))
    word = volume.get("State")
    attachments = volume.get("Attachments", [])
    return ResourceData(
        ems_ref=volume_id,
        resource_type_slug="block_storage",
        name=name_of(tags, volume_id),
        canonical_id=scope.arn("ec2", f"volume/{volume_id}"),
        vendor_identifiers={"volume_id": volume_id},
        vendor_type="AWS::EC2::Volume",
        state=states.mapped(states.VOLUME, word),
        region=scope.region,
        availability_zone=volume.get("AvailabilityZone"),
        cloud_tenant=scope.account,
        flavor=volume.get("VolumeType"),
        disk_gb=volume.get("Size"),
        ems_created_on=iso(volume.get("CreateTime")),
        provider_tags=tags,
        properties=compact(
            {
                "state": word,
                "iops": volume.get("Iops"),
                "throughput": volume.get("Throughput"),
                "encrypted": volume.get("Encrypted"),
                "kms_key_id": volume.get("KmsKeyId"),
                "snapshot_id": volume.get("SnapshotId"),
                "multi_attach_enabled": volume.get("MultiAttachEnabled"),
                "attachments": [
                    compact(
                        {
                            "instance_id": a.get("InstanceId"),
                            "device": a.get("Device"),
                            "state": a.get("State"),
                            "delete_on_termination": a.get("DeleteOnTermination"),
                        }
                    )
                    for a in attachments
                ],
            }
        ),
        relationships=edges("attached_to", (a.get("InstanceId") for a in attachments)),
    )
