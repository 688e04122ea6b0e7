"""aws:aws collects every resource type of seed 000's AWS table from moto, with its edges.

In-process: the plugin class from its folder, driven by the SDK's testing helpers
(tests/platforms/aws/test_aws_service.py runs it as the service does). moto is
reached through ``AWS_ENDPOINT_URL`` only: seed 000's payload is used verbatim.
"""

from __future__ import annotations

import pytest

from emulators.moto import MotoServer
from inventory_providers.vocabulary import STATES
from platforms.aws import plugin
from platforms.aws.estate import AMI, build, run_instances, small

ACCOUNT = "123456789012"  # moto's default account


def moto_ids(moto: MotoServer, region: str = "us-east-1") -> dict[str, set[str]]:
    """What moto holds, read with boto3 directly: the truth to compare with."""
    ec2 = moto.client("ec2", region)
    return {
        "virtual_machine": {
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        },
        "vpc": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
        "subnet": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
        "security_group": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "block_storage": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
    }


def test_seed_payload_collects_every_type_of_the_seed_table_with_its_relationships(
    aws: MotoServer,
) -> None:
    estate = build(aws)

    found = plugin.by_type(plugin.collect(provider := plugin.make()))

    assert provider.incomplete_parts == []
    for slug, refs in moto_ids(aws).items():
        assert set(found[slug]) == refs, slug
    assert set(found["auto_scaling_group"]) == {estate.auto_scaling_group}
    assert set(found["load_balancer"]) == {estate.load_balancer}
    assert set(found["relational_db"]) == {estate.database}
    assert set(found["serverless_function"]) == {estate.function}
    assert set(found["container_orchestration_platform"]) == {estate.cluster}
    assert set(found["object_storage"]) == {estate.bucket}
    assert sorted(found) == sorted(plugin.provider_class().supported_resource_types)

    web = found["virtual_machine"][estate.web[0]]
    assert (web.name, web.flavor, web.cpu_count, web.memory_mb) == ("web", "t3.large", 2, 8192)
    assert (web.state, web.power_state, web.region, web.cloud_tenant) == (
        "running",
        "running",
        "us-east-1",
        ACCOUNT,
    )
    assert web.availability_zone == "us-east-1a"
    assert web.canonical_id == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{estate.web[0]}"
    assert web.provider_tags == {"Name": "web", "team": "shop"}
    assert web.properties["image_id"] == AMI
    assert web.ip_addresses and web.mac_addresses and web.boot_time
    assert plugin.edges(web) == {
        ("member_of", estate.vpc),
        ("member_of", estate.subnets[0]),
        ("member_of", estate.security_group),
    }
    for worker in estate.workers:
        assert ("member_of", estate.auto_scaling_group) in plugin.edges(
            found["virtual_machine"][worker]
        )
    volume = found["block_storage"][estate.volume]
    assert (volume.disk_gb, volume.flavor, volume.state) == (50, "gp3", "active")
    assert plugin.edges(volume) == {("attached_to", estate.web[0])}
    balancer = found["load_balancer"][estate.load_balancer]
    assert {("routes_to", i) for i in estate.web} <= plugin.edges(balancer)
    assert ("member_of", estate.vpc) in plugin.edges(balancer)
    assert balancer.properties["target_groups"][0]["arn"] == estate.target_group
    for subnet in estate.subnets:
        assert plugin.edges(found["subnet"][subnet]) == {("member_of", estate.vpc)}
    assert plugin.edges(found["security_group"][estate.security_group]) == {
        ("member_of", estate.vpc)
    }
    database = found["relational_db"][estate.database]
    assert (database.state, database.power_state, database.flavor) == (
        "running",
        "available",
        "db.t3.micro",
    )
    assert {("member_of", estate.vpc), ("member_of", estate.security_group)} <= plugin.edges(
        database
    )
    function = found["serverless_function"][estate.function]
    assert (function.memory_mb, function.properties["runtime"]) == (256, "python3.11")
    assert ("member_of", estate.security_group) in plugin.edges(function)
    cluster = found["container_orchestration_platform"][estate.cluster]
    assert {("member_of", s) for s in estate.subnets} <= plugin.edges(cluster)
    assert found["object_storage"][estate.bucket].region == "us-east-1"


def test_instance_states_map_to_the_vocabulary_and_keep_aws_word(aws: MotoServer) -> None:
    first, second = sorted(run_instances(aws, 2, per_call=2))
    ec2 = aws.client("ec2")
    ec2.stop_instances(InstanceIds=[first])
    ec2.terminate_instances(InstanceIds=[second])

    vms = plugin.by_type(plugin.collect(plugin.make(services=["ec2"])))["virtual_machine"]

    stopped, terminated = vms[first], vms[second]
    assert (stopped.state, stopped.power_state) == ("stopped", "stopped")
    assert (terminated.state, terminated.power_state) == ("terminated", "terminated")
    assert terminated.properties["state"] == "terminated"


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("pending", "provisioning"),
        ("running", "running"),
        ("stopping", "stopped"),
        ("stopped", "stopped"),
        ("shutting-down", "terminated"),
        ("terminated", "terminated"),
        ("hibernating", "unknown"),  # a word AWS may add: unknown, never an invalid state
    ],
)
def test_every_ec2_instance_state_has_a_vocabulary_state(word: str, state: str) -> None:
    states = plugin.module("states")

    mapped = states.mapped(states.INSTANCE, word)

    assert mapped == state
    assert mapped in STATES


def test_regions_are_read_in_parallel_and_buckets_follow_their_region(aws: MotoServer) -> None:
    east = small(aws, "us-east-1")
    west = small(aws, "eu-west-1")
    small(aws, "ap-southeast-2")  # not asked for

    found = plugin.by_type(plugin.collect(plugin.make(regions=["us-east-1", "eu-west-1"])))

    regions = {r.region for refs in found.values() for r in refs.values()}
    assert regions == {"us-east-1", "eu-west-1"}
    assert set(found["virtual_machine"]) == {east[0], west[0]}
    assert set(found["object_storage"]) == {east[1], west[1]}
    assert found["object_storage"][west[1]].region == "eu-west-1"
    assert found["virtual_machine"][west[0]].availability_zone.startswith("eu-west-1")


def test_all_regions_reads_every_region_the_account_has_enabled(aws: MotoServer) -> None:
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]
    for region in ("ap-southeast-2", "sa-east-1"):
        aws.client("lambda", region).create_function(
            FunctionName=f"fn-{region}",
            Runtime="python3.11",
            Role=role["Arn"],
            Handler="main.handler",
            Code={"ZipFile": b"PK\x05\x06" + bytes(18)},  # an empty zip
        )
    enabled = [
        r["RegionName"]
        for r in aws.client("ec2").describe_regions()["Regions"]
        if r["OptInStatus"] != "not-opted-in"
    ]

    provider = plugin.make(regions=["all"], services=["lambda"])
    calls: list[str] = []
    found = plugin.by_type(plugin.collect(provider, on_call=calls.append))

    functions = found["serverless_function"].values()
    assert {f.region for f in functions} == {"ap-southeast-2", "sa-east-1"}
    assert calls.count("ListFunctions") == len(enabled) > 10
    assert set(calls) == {"DescribeRegions", "ListFunctions"}  # services limits what is read


def test_an_assumed_role_reads_the_account_the_role_belongs_to(aws: MotoServer) -> None:
    small(aws)  # in the caller's own account: not what the role sees
    role = "arn:aws:iam::111111111111:role/EstateReadOnly"
    keys = aws.client("sts").assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"]
    other = aws.client(
        "ec2", key=keys["AccessKeyId"], secret=keys["SecretAccessKey"], token=keys["SessionToken"]
    )
    (mine,) = other.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"]

    provider = plugin.make(role_arn=role, external_id="estate-42", services=["ec2", "s3"])
    found = plugin.by_type(plugin.collect(provider))
    vms = found["virtual_machine"]

    assert set(vms) == {mine["InstanceId"]}
    assert "object_storage" not in found  # the caller's bucket is in the caller's account
    assert vms[mine["InstanceId"]].cloud_tenant == "111111111111"
    ok, message = plugin.make(role_arn=role).validate_connection()
    assert ok, message
    assert "account 111111111111" in message
    assert "assumed-role/EstateReadOnly/estate-inventory" in message


def test_an_endpoint_that_is_not_aws_is_used_for_every_service(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    instance, bucket = small(moto)
    only = {"services": ["ec2", "s3"]}

    via_endpoint = plugin.by_type(plugin.collect(plugin.make(endpoint=moto.url, **only)))
    via_parameter = plugin.by_type(plugin.collect(plugin.make(endpoint_url=moto.url, **only)))

    for found in (via_endpoint, via_parameter):
        assert set(found["virtual_machine"]) == {instance}
        assert set(found["object_storage"]) == {bucket}
