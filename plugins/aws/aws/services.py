"""S3 buckets, RDS instances, Lambda functions and EKS clusters as resources.

Resource type mapping (the AWS object each comes from) and the edges each carries:
    S3 bucket          object_storage                      -
    RDS DB instance    relational_db                       member_of VPC, subnets, security groups
    Lambda function    serverless_function                 member_of VPC, subnets, security groups
    EKS cluster        container_orchestration_platform    member_of VPC, subnets, security groups
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from inventory_providers.base import ResourceData

from . import states
from .common import Scope, compact, iso, member_of, pages, tags_of
from .failures import code_of

__all__ = ["buckets", "clusters", "db_instances", "functions"]

# GetBucketLocation's answer for the oldest regions (AWS's own spelling).
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def buckets(client: Any, scope: Scope, regions: frozenset[str] | None) -> Iterator[ResourceData]:
    """The account's buckets in ``regions`` (every bucket when None).

    ListBuckets is account-wide; a bucket whose region cannot be read is kept and
    listed under the home region.
    """
    if client.can_paginate("list_buckets"):
        listing = pages(client, "list_buckets", scope, most=1000)
    else:
        listing = iter([client.list_buckets()])
    for page in listing:
        for bucket in page.get("Buckets", []):
            region = bucket.get("BucketRegion")
            if region is None:
                exists, region = _location(client, bucket["Name"])
                if not exists:  # deleted since the listing
                    continue
            if regions is not None and (region or scope.region) not in regions:
                continue
            yield _bucket(bucket, region, scope)


def _location(client: Any, name: str) -> tuple[bool, str | None]:
    """Whether the bucket still exists, and its region (None when it may not be asked)."""
    try:
        constraint = client.get_bucket_location(Bucket=name).get("LocationConstraint")
    except ClientError as exc:
        # Without s3:GetBucketLocation on this bucket it is listed without a region.
        return code_of(exc) != "NoSuchBucket", None
    return True, _LEGACY_LOCATIONS.get(constraint, constraint)


def _bucket(bucket: Mapping[str, Any], region: str | None, scope: Scope) -> ResourceData:
    name = bucket["Name"]
    return ResourceData(
        ems_ref=name,
        resource_type_slug="object_storage",
        name=name,
        canonical_id=f"arn:{scope.partition}:s3:::{name}",
        vendor_identifiers={"bucket": name},
        vendor_type="AWS::S3::Bucket",
        state="active",
        region=region,
        cloud_tenant=scope.account,
        ems_created_on=iso(bucket.get("CreationDate")),
        fqdn=f"{name}.s3.{region}.amazonaws.com" if region else None,
    )


def db_instances(client: Any, scope: Scope) -> Iterator[ResourceData]:
    for page in pages(client, "describe_db_instances", scope, most=100, least=20):
        for db in page.get("DBInstances", []):
            yield _db_instance(db, scope)


def _db_instance(db: Mapping[str, Any], scope: Scope) -> ResourceData:
    word = db.get("DBInstanceStatus")
    group = db.get("DBSubnetGroup") or {}
    subnet_ids = [s["SubnetIdentifier"] for s in group.get("Subnets", [])]
    security = [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])]
    endpoint = db.get("Endpoint") or {}
    return ResourceData(
        ems_ref=db["DBInstanceArn"],
        resource_type_slug="relational_db",
        name=db["DBInstanceIdentifier"],
        canonical_id=db["DBInstanceArn"],
        vendor_identifiers=compact(
            {
                "db_instance_identifier": db["DBInstanceIdentifier"],
                "resource_id": db.get("DbiResourceId"),
            }
        ),
        vendor_type="AWS::RDS::DBInstance",
        state=states.mapped(states.DATABASE, word),
        power_state=word,
        region=scope.region,
        availability_zone=db.get("AvailabilityZone"),
        cloud_tenant=scope.account,
        flavor=db.get("DBInstanceClass"),
        disk_gb=db.get("AllocatedStorage"),
        fqdn=endpoint.get("Address"),
        ems_created_on=iso(db.get("InstanceCreateTime")),
        provider_tags=tags_of(db.get("TagList")),
        properties=compact(
            {
                "state": word,
                "engine": db.get("Engine"),
                "engine_version": db.get("EngineVersion"),
                "port": endpoint.get("Port") or db.get("DbInstancePort"),
                "db_name": db.get("DBName"),
                "multi_az": db.get("MultiAZ"),
                "storage_type": db.get("StorageType"),
                "storage_encrypted": db.get("StorageEncrypted"),
                "publicly_accessible": db.get("PubliclyAccessible"),
                "license_model": db.get("LicenseModel"),
                "backup_retention_period": db.get("BackupRetentionPeriod"),
                "db_subnet_group": group.get("DBSubnetGroupName"),
                "vpc_id": group.get("VpcId"),
                "security_groups": security,
            }
        ),
        relationships=member_of(group.get("VpcId"), *subnet_ids, *security),
    )


def functions(client: Any, scope: Scope) -> Iterator[ResourceData]:
    for page in pages(client, "list_functions", scope, most=50):
        for function in page.get("Functions", []):
            yield _function(function, scope)


def _function(function: Mapping[str, Any], scope: Scope) -> ResourceData:
    word = function.get("State")
    vpc = function.get("VpcConfig") or {}
    subnet_ids = vpc.get("SubnetIds", [])
    security = vpc.get("SecurityGroupIds", [])
    return ResourceData(
        ems_ref=function["FunctionArn"],
        resource_type_slug="serverless_function",
        name=function["FunctionName"],
        description=function.get("Description") or None,
        canonical_id=function["FunctionArn"],
        vendor_type="AWS::Lambda::Function",
        state=states.mapped(states.FUNCTION, word, default="active"),
        region=scope.region,
        cloud_tenant=scope.account,
        memory_mb=function.get("MemorySize"),
        properties=compact(
            {
                "state": word,
                "runtime": function.get("Runtime"),
                "handler": function.get("Handler"),
                "package_type": function.get("PackageType"),
                "architectures": function.get("Architectures"),
                "code_size": function.get("CodeSize"),
                "code_sha256": function.get("CodeSha256"),
                "timeout": function.get("Timeout"),
                "role": function.get("Role"),
                "version": function.get("Version"),
                "last_modified": function.get("LastModified"),
                "last_update_status": function.get("LastUpdateStatus"),
                "ephemeral_storage_mb": (function.get("EphemeralStorage") or {}).get("Size"),
                "layers": [layer.get("Arn") for layer in function.get("Layers", [])],
                "vpc_id": vpc.get("VpcId") or None,
            }
        ),
        relationships=member_of(vpc.get("VpcId") or None, *subnet_ids, *security),
    )


def clusters(client: Any, scope: Scope) -> Iterator[ResourceData]:
    """Every EKS cluster (ListClusters, then DescribeCluster for each: EKS has no bulk read)."""
    for page in pages(client, "list_clusters", scope, most=100):
        for name in page.get("clusters", []):
            try:
                cluster = client.describe_cluster(name=name)["cluster"]
            except ClientError as exc:
                if code_of(exc) == "ResourceNotFoundException":  # deleted meanwhile
                    continue
                raise
            yield _cluster(cluster, scope)


def _cluster(cluster: Mapping[str, Any], scope: Scope) -> ResourceData:
    word = cluster.get("status")
    network = cluster.get("resourcesVpcConfig") or {}
    security = [*network.get("securityGroupIds", [])]
    if network.get("clusterSecurityGroupId"):
        security.append(network["clusterSecurityGroupId"])
    return ResourceData(
        ems_ref=cluster["arn"],
        resource_type_slug="container_orchestration_platform",
        name=cluster["name"],
        canonical_id=cluster["arn"],
        vendor_type="AWS::EKS::Cluster",
        state=states.mapped(states.CLUSTER, word),
        region=scope.region,
        cloud_tenant=scope.account,
        ems_created_on=iso(cluster.get("createdAt")),
        provider_tags=tags_of(cluster.get("tags")),
        properties=compact(
            {
                "state": word,
                "kubernetes_version": cluster.get("version"),
                "platform_version": cluster.get("platformVersion"),
                "endpoint": cluster.get("endpoint"),
                "role_arn": cluster.get("roleArn"),
                "vpc_id": network.get("vpcId"),
                "subnets": network.get("subnetIds"),
                "security_groups": security,
                "endpoint_public_access": network.get("endpointPublicAccess"),
                "endpoint_private_access": network.get("endpointPrivateAccess"),
                "service_ipv4_cidr": (cluster.get("kubernetesNetworkConfig") or {}).get(
                    "serviceIpv4Cidr"
                ),
            }
        ),
        relationships=member_of(network.get("vpcId"), *network.get("subnetIds", []), *security),
    )
