"""The conformance suite on aws:aws against moto: core and snapshot on an EC2 instance,
each action's effect read back from the next collection; moto checks credentials (an
IAM user's keys), so wrong ones are refused as AWS refuses them."""

from __future__ import annotations

from conformance.helpers import assert_conforms
from emulators.moto import MotoServer
from platforms.aws.estate import reader
from platforms.aws.plugin import FOLDER
from platforms.aws.test_aws_actions import instance

OPERATOR = ["ec2:*", "ssm:GetParameter*", "sts:GetCallerIdentity"]


def test_aws_conforms_to_core_and_snapshot(aws: MotoServer) -> None:
    instance(aws)
    keys = reader(aws, OPERATOR)
    aws.require_credentials()
    config = {**keys, "region": "us-east-1", "services": ["ec2", "ebs", "vpc"]}

    report = assert_conforms(FOLDER, config)

    assert report.profiles == ["core", "snapshot"]
    statuses = {p: report.profile_status(p) for p in ("base", "core", "snapshot")}
    assert statuses == {"base": "pass", "core": "pass", "snapshot": "pass"}, statuses
