"""VPCs, subnets, security groups and ELBv2 load balancers as resources.

    VPC                         vpc              -
    Subnet                      subnet           member_of its VPC
    Security group              security_group   member_of its VPC
    ALB / NLB / GWLB (ELBv2)    load_balancer    member_of VPC, subnets, security groups;
                                                 routes_to every registered target
                                                 (instances, Lambda functions, ALBs)

Target groups are not a resource type of the taxonomy: each load balancer lists the
target groups it forwards to in ``properties["target_groups"]``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from inventory_providers.base import ResourceData

from . import states
from .common import Scope, compact, edges, iso, member_of, name_of, pages, plain, tags_of
from .failures import code_of

__all__ = ["load_balancers", "security_groups", "subnets", "vpcs"]

TAGS_PER_CALL = 20


def vpcs(client: Any, scope: Scope) -> Iterator[ResourceData]:
    for page in pages(client, "describe_vpcs", scope, most=1000, least=5):
        for vpc in page.get("Vpcs", []):
            vpc_id = vpc["VpcId"]
            tags = tags_of(vpc.get("Tags"))
            word = vpc.get("State")
            yield ResourceData(
                ems_ref=vpc_id,
                resource_type_slug="vpc",
                name=name_of(tags, vpc_id),
                canonical_id=scope.arn("ec2", f"vpc/{vpc_id}"),
                vendor_identifiers={"vpc_id": vpc_id},
                vendor_type="AWS::EC2::VPC",
                state=states.mapped(states.NETWORK, word),
                region=scope.region,
                cloud_tenant=vpc.get("OwnerId") or scope.account,
                provider_tags=tags,
                properties=compact(
                    {
                        "state": word,
                        "cidr_block": vpc.get("CidrBlock"),
                        "cidr_blocks": [
                            a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", [])
                        ],
                        "ipv6_cidr_blocks": [
                            a["Ipv6CidrBlock"]
                            for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
                            if a.get("Ipv6CidrBlock")
                        ],
                        "is_default": vpc.get("IsDefault"),
                        "instance_tenancy": vpc.get("InstanceTenancy"),
                        "dhcp_options_id": vpc.get("DhcpOptionsId"),
                    }
                ),
            )


def subnets(client: Any, scope: Scope) -> Iterator[ResourceData]:
    for page in pages(client, "describe_subnets", scope, most=1000, least=5):
        for subnet in page.get("Subnets", []):
            subnet_id = subnet["SubnetId"]
            tags = tags_of(subnet.get("Tags"))
            word = subnet.get("State")
            yield ResourceData(
                ems_ref=subnet_id,
                resource_type_slug="subnet",
                name=name_of(tags, subnet_id),
                canonical_id=subnet.get("SubnetArn") or scope.arn("ec2", f"subnet/{subnet_id}"),
                vendor_identifiers={"subnet_id": subnet_id},
                vendor_type="AWS::EC2::Subnet",
                state=states.mapped(states.NETWORK, word),
                region=scope.region,
                availability_zone=subnet.get("AvailabilityZone"),
                cloud_tenant=subnet.get("OwnerId") or scope.account,
                provider_tags=tags,
                # AvailableIpAddressCount is left out: it changes with every launch.
                properties=compact(
                    {
                        "state": word,
                        "vpc_id": subnet.get("VpcId"),
                        "cidr_block": subnet.get("CidrBlock"),
                        "ipv6_cidr_blocks": [
                            a["Ipv6CidrBlock"]
                            for a in subnet.get("Ipv6CidrBlockAssociationSet", [])
                            if a.get("Ipv6CidrBlock")
                        ],
                        "availability_zone_id": subnet.get("AvailabilityZoneId"),
                        "default_for_az": subnet.get("DefaultForAz"),
                        "map_public_ip_on_launch": subnet.get("MapPublicIpOnLaunch"),
                    }
                ),
                relationships=member_of(subnet.get("VpcId")),
            )


def security_groups(client: Any, scope: Scope) -> Iterator[ResourceData]:
    for page in pages(client, "describe_security_groups", scope, most=1000, least=5):
        for group in page.get("SecurityGroups", []):
            group_id = group["GroupId"]
            yield ResourceData(
                ems_ref=group_id,
                resource_type_slug="security_group",
                name=group.get("GroupName") or group_id,
                description=group.get("Description"),
                canonical_id=scope.arn("ec2", f"security-group/{group_id}"),
                vendor_identifiers={"group_id": group_id},
                vendor_type="AWS::EC2::SecurityGroup",
                state="active",
                region=scope.region,
                cloud_tenant=group.get("OwnerId") or scope.account,
                provider_tags=tags_of(group.get("Tags")),
                properties=compact(
                    {
                        "group_name": group.get("GroupName"),
                        "vpc_id": group.get("VpcId"),
                        "ingress": plain(group.get("IpPermissions", [])),
                        "egress": plain(group.get("IpPermissionsEgress", [])),
                    }
                ),
                relationships=member_of(group.get("VpcId")),
            )


def load_balancers(client: Any, scope: Scope) -> Iterator[ResourceData]:
    """Every ELBv2 load balancer with its target groups and their registered targets."""
    found = [
        lb
        for page in pages(client, "describe_load_balancers", scope, most=400)
        for lb in page.get("LoadBalancers", [])
    ]
    if not found:
        return
    groups = _target_groups(client, scope)
    tags = _tags(client, [lb["LoadBalancerArn"] for lb in found])
    for lb in found:
        arn = lb["LoadBalancerArn"]
        yield _load_balancer(lb, groups.get(arn, []), tags.get(arn, {}), scope)


def _target_groups(client: Any, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Load balancer ARN -> the target groups it forwards to, each with its targets."""
    by_balancer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in pages(client, "describe_target_groups", scope, most=400):
        for group in page.get("TargetGroups", []):
            if not group.get("LoadBalancerArns"):
                continue
            try:
                health = client.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            except ClientError as exc:
                if code_of(exc) == "TargetGroupNotFound":  # deleted meanwhile
                    continue
                raise
            summary = compact(
                {
                    "arn": group["TargetGroupArn"],
                    "name": group.get("TargetGroupName"),
                    "protocol": group.get("Protocol"),
                    "port": group.get("Port"),
                    "target_type": group.get("TargetType"),
                    "health_check_path": group.get("HealthCheckPath"),
                    # Health is left out: it flaps, and each flap would be a change.
                    "targets": [
                        compact({"id": t["Target"]["Id"], "port": t["Target"].get("Port")})
                        for t in health.get("TargetHealthDescriptions", [])
                    ],
                }
            )
            for balancer in group["LoadBalancerArns"]:
                by_balancer[balancer].append(summary)
    return by_balancer


def _tags(client: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), TAGS_PER_CALL):
        answer = client.describe_tags(ResourceArns=arns[start : start + TAGS_PER_CALL])
        for entry in answer.get("TagDescriptions", []):
            found[entry["ResourceArn"]] = tags_of(entry.get("Tags"))
    return found


def _load_balancer(
    lb: Mapping[str, Any], groups: list[dict[str, Any]], tags: dict[str, str], scope: Scope
) -> ResourceData:
    word = lb.get("State", {}).get("Code")
    zones = lb.get("AvailabilityZones", [])
    subnet_ids = [z["SubnetId"] for z in zones if z.get("SubnetId")]
    targets = [
        t["id"]
        for g in groups
        for t in g.get("targets", [])
        if g.get("target_type", "instance") in ("instance", "lambda", "alb")
    ]
    return ResourceData(
        ems_ref=lb["LoadBalancerArn"],
        resource_type_slug="load_balancer",
        name=lb.get("LoadBalancerName"),
        canonical_id=lb["LoadBalancerArn"],
        vendor_type="AWS::ElasticLoadBalancingV2::LoadBalancer",
        state=states.mapped(states.LOAD_BALANCER, word),
        region=scope.region,
        cloud_tenant=scope.account,
        flavor=lb.get("Type"),
        fqdn=lb.get("DNSName"),
        ems_created_on=iso(lb.get("CreatedTime")),
        provider_tags=tags,
        properties=compact(
            {
                "state": word,
                "type": lb.get("Type"),
                "scheme": lb.get("Scheme"),
                "ip_address_type": lb.get("IpAddressType"),
                "dns_name": lb.get("DNSName"),
                "vpc_id": lb.get("VpcId"),
                "availability_zones": [z.get("ZoneName") for z in zones],
                "subnets": subnet_ids,
                "security_groups": lb.get("SecurityGroups"),
                "target_groups": groups,
            }
        ),
        relationships=[
            *member_of(lb.get("VpcId"), *subnet_ids, *lb.get("SecurityGroups", [])),
            *edges("routes_to", targets),
        ],
    )
