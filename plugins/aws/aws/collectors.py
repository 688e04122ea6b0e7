"""What is read, from which API, in what order: one row per part an operator can name.

A part is the unit of failure: when one fails (denied, throttled beyond the retries,
not offered in a region) the run goes on with the others and ends ``partial``, and
nothing of that part is marked deleted. Within a region the parts run in this order
(Auto Scaling before EC2 instances: each instance names its group). A targeted
collection (the refresh after an action) reads only the parts of the types it asks
for, and the parts those need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from inventory_providers.base import ResourceData

from . import compute, network, services
from .common import Scope

__all__ = ["REGIONAL", "Collector"]


@dataclass(frozen=True, slots=True)
class Collector:
    """One part: ``option`` is its name in the ``services`` parameter, ``api`` the boto3
    client it reads with, ``label`` what the run's message calls it, ``slug`` the type it
    yields, ``feeds`` the types whose mapping needs it too."""

    option: str
    api: str
    label: str
    read: Callable[[Any, Scope], Iterator[ResourceData]]
    slug: str
    feeds: tuple[str, ...] = ()

    def is_wanted(self, targets: frozenset[str] | None) -> bool:
        """Whether a collection of ``targets`` (None: every type) reads this part."""
        return targets is None or self.slug in targets or not targets.isdisjoint(self.feeds)


REGIONAL = (
    Collector(
        "autoscaling",
        "autoscaling",
        "Auto Scaling groups",
        compute.auto_scaling_groups,
        "auto_scaling_group",
        ("virtual_machine",),  # each instance names its group
    ),
    Collector("ec2", "ec2", "EC2 instances", compute.instances, "virtual_machine"),
    Collector("ebs", "ec2", "EBS volumes", compute.volumes, "block_storage"),
    Collector("vpc", "ec2", "VPCs", network.vpcs, "vpc"),
    Collector("vpc", "ec2", "subnets", network.subnets, "subnet"),
    Collector("vpc", "ec2", "security groups", network.security_groups, "security_group"),
    Collector("elbv2", "elbv2", "load balancers", network.load_balancers, "load_balancer"),
    Collector("rds", "rds", "RDS instances", services.db_instances, "relational_db"),
    Collector("lambda", "lambda", "Lambda functions", services.functions, "serverless_function"),
    Collector("eks", "eks", "EKS clusters", services.clusters, "container_orchestration_platform"),
)
"""Read in every region scanned. S3 buckets are account-wide: read once (provider.py)."""
