"""1,200 EC2 instances, more than one page holds: each collected exactly once.

The instances are made in 12 reservations of 100 (moto pages DescribeInstances by
reservation, AWS by instance) and read through pages of 5 reservations, so the
collection follows NextToken from page to page. The same estate through the service,
with the default page size, is bench/platforms/aws_aws.py's (it takes longer).
"""

from __future__ import annotations

from emulators.moto import MotoServer
from platforms.aws import plugin
from platforms.aws.estate import run_instances

INSTANCES = 1200
PER_CALL = 100
PAGE = 5


def test_every_instance_arrives_exactly_once_through_many_pages(aws: MotoServer) -> None:
    made = run_instances(aws, INSTANCES, PER_CALL)
    calls: list[str] = []

    found = plugin.collect(plugin.make(services=["ec2"], page_size=PAGE), on_call=calls.append)

    refs = [r.ems_ref for r in found]
    assert len(refs) == len(set(refs)) == INSTANCES
    assert set(refs) == made
    assert calls.count("DescribeInstances") == -(-INSTANCES // PER_CALL // PAGE)  # 3 pages
    assert {r.state for r in found} == {"running"}
