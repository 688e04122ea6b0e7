"""aws:aws's lifecycle actions through the provider class against moto.

Each action is run as the service runs it (``run_action``: parameters checked, no
``connect()`` beforehand) and its effect read back by a following collection. moto
moves an instance between states at once (``pending`` reads as ``running``), and it
lets a terminated instance start: the plugin checks states itself, so these tests
see the plugin's answers, not moto's leniency.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulators.moto import MotoServer
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidParameter, NotFound, Unauthenticated, Unsupported
from platforms.aws import plugin
from platforms.aws.estate import AMI

UNKNOWN = "i-0123456789abcdef0"
SERVICES = ["ec2", "ebs", "vpc"]


def instance(moto: MotoServer, name: str = "app") -> str:
    (made,) = moto.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Instances"]
    return str(made["InstanceId"])


def collected(provider: BaseProvider) -> dict[str, ResourceData]:
    return {r.ems_ref: r for r in plugin.collect(provider)}


def act(provider: BaseProvider, name: str, ref: str | None, /, **params: Any) -> Any:
    return provider.run_action(name, ref, params)


def test_power_actions_converge_are_idempotent_and_show_in_the_next_collection(
    aws: MotoServer,
) -> None:
    ref = instance(aws)
    provider = plugin.make(services=SERVICES)

    off = act(provider, "power_off", ref)
    again = act(provider, "power_off", ref)
    stopped = collected(provider)[ref]
    on = act(provider, "power_on", ref)
    on_again = act(provider, "power_on", ref)
    running = collected(provider)[ref]
    down = act(provider, "shutdown", ref, timeout=30)
    down_again = act(provider, "shutdown", ref)

    assert off == {"changed": True, "before": "running", "state": "stopped"}
    assert again == {"changed": False, "state": "stopped"}
    assert (stopped.state, stopped.power_state) == ("stopped", "stopped")
    assert on == {"changed": True, "before": "stopped", "state": "running"}
    assert on_again == {"changed": False, "state": "running"}
    assert running.state == "running"
    assert down == {"changed": True, "before": "running", "state": "stopped"}
    assert down_again["changed"] is False
    with pytest.raises(InvalidParameter, match=f"reboot: {ref} is stopped, not running"):
        act(provider, "reboot", ref)
    with pytest.raises(InvalidParameter, match=r"params\.timeout: must be >= 0"):
        act(provider, "shutdown", ref, timeout=-1)
    act(provider, "power_on", ref)
    assert act(provider, "reboot", ref) == {"rebooted": ref, "state": "running"}
    assert provider.action_availability("reboot", {"state": "stopped"}) == (
        False,
        "it is stopped, not running",
    )


def test_describe_maps_the_instance_as_the_collection_does_and_delete_terminates(
    aws: MotoServer,
) -> None:
    ref = instance(aws, "doomed")
    provider = plugin.make(services=SERVICES)

    described = act(provider, "describe", ref)
    stored = collected(provider)[ref]
    deleted = act(provider, "delete", ref)
    after = collected(provider)[ref]

    assert described == stored.to_dict()
    assert (described["name"], described["state"], described["flavor"]) == (
        "doomed",
        "running",
        "m1.small",
    )
    assert deleted["changed"] is True and deleted["deleted"] == ref
    assert after.state == "terminated"
    assert act(provider, "delete", ref) == {"changed": False, "state": "terminated"}
    with pytest.raises(InvalidParameter, match=f"power_on: {ref} is terminated"):
        act(provider, "power_on", ref)  # moto would start it; EC2 refuses, so does the plugin
    assert provider.action_availability("power_on", {"state": "terminated"})[0] is False


def test_an_unknown_instance_is_not_found_for_every_action(aws: MotoServer) -> None:
    provider = plugin.make(services=SERVICES)
    params: dict[str, dict[str, Any]] = {
        "snapshot_create": {"name": "x"},
        "snapshot_revert": {"snapshot": "x"},
        "snapshot_delete": {"snapshot": "x"},
    }

    for name, spec in provider.action_specs().items():
        for ref in (UNKNOWN, "vol-0123456789abcdef0"):
            if not spec.is_provider_level:
                with pytest.raises(NotFound, match=ref):
                    act(provider, name, ref, **params.get(name, {}))
    with pytest.raises(Unsupported, match="no action 'clone'"):
        act(provider, "clone", UNKNOWN, name="copy")
    aws.require_credentials()  # seed 000's example key is no IAM user's: refused from now on
    for _ in range(2):  # by EC2 on the session kept from before, then by STS on a new one
        with pytest.raises(Unauthenticated, match="AWS refused the credentials") as refused:
            act(provider, "power_on", UNKNOWN)
        assert plugin.SEED_CONFIG["password"] not in str(refused.value)


def test_create_launches_a_named_instance_that_the_next_collection_shows_in_its_subnet(
    aws: MotoServer,
) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    provider = plugin.make(services=SERVICES)

    made = act(provider, "create", None, name="api", image=AMI, subnet=subnet)
    latest = act(provider, "create", None, name="plain")
    found = collected(provider)

    new = found[made["ems_ref"]]
    assert (made["name"], made["region"], made["image"], made["instance_type"]) == (
        "api",
        "us-east-1",
        AMI,
        "t3.micro",
    )
    assert (new.name, new.flavor, new.state) == ("api", "t3.micro", "running")
    assert {("member_of", vpc), ("member_of", subnet)} <= plugin.edges(new)
    assert found[latest["ems_ref"]].name == "plain"
    assert latest["image"].startswith("ami-")  # the latest Amazon Linux 2023, from SSM
    bad = [
        ({"image": "ami-00000000000000000"}, "params.image: no AMI 'ami-00000000000000000'"),
        ({"image": AMI, "instance_type": "x9.huge"}, "params.instance_type"),
        ({"image": AMI, "subnet": "subnet-0123456789abcdef0"}, "params.subnet"),
        ({"image": AMI, "region": "eu-west-1"}, "params.region: 'eu-west-1' is not read"),
        ({"name": " "}, "params.name: must be 1 to 256 characters"),
    ]
    for params, message in bad:
        with pytest.raises(InvalidParameter, match=message):
            act(provider, "create", None, **{"name": "x", **params})
    assert len(collected(provider)) == len(found)  # nothing launched by the refused ones


def volumes_of(vm: ResourceData) -> dict[str, str]:
    """device -> volume id, as the collection stores the instance's block devices."""
    return {d["device"]: d["volume_id"] for d in vm.properties["block_devices"]}  # type: ignore[index]


def test_snapshot_revert_and_rollback_swap_in_the_recorded_volumes_and_power_state(
    aws: MotoServer,
) -> None:
    ref = instance(aws)
    ec2 = aws.client("ec2")
    data = ec2.create_volume(AvailabilityZone="us-east-1a", Size=50, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=ref, Device="/dev/sdf")
    provider = plugin.make(services=SERVICES)
    root = volumes_of(collected(provider)[ref])["/dev/sda1"]

    made = act(provider, "snapshot_create", ref, name="clean", description="before the upgrade")
    first = collected(provider)
    act(provider, "power_off", ref)
    act(provider, "snapshot_create", ref, name="stopped")
    listed = act(provider, "snapshot_list", ref)

    assert made["power_state"] == "running"
    assert {(v["device"], v["volume_id"]) for v in made["volumes"]} == {
        ("/dev/sda1", root),
        ("/dev/sdf", data),
    }
    assert first[ref].properties["snapshots"] == ["clean"]
    assert provider.action_availability("rollback", first[ref].to_dict()) == (True, "")
    assert [(s["name"], s["power_state"]) for s in listed] == [
        ("clean", "running"),
        ("stopped", "stopped"),
    ]
    assert listed[0]["description"] == "before the upgrade"
    with pytest.raises(InvalidParameter, match=r"params\.name: 'clean' exists"):
        act(provider, "snapshot_create", ref, name="clean")

    reverted = act(provider, "snapshot_revert", ref, snapshot="clean")
    after = collected(provider)

    swapped = {v["device"]: v for v in reverted["volumes"]}
    assert reverted["state"] == "running"  # as it was when "clean" was taken
    assert swapped["/dev/sdf"]["old_volume_id"] == data
    vm = after[ref]
    assert vm.state == "running"
    assert volumes_of(vm) == {d: v["volume_id"] for d, v in swapped.items()}
    clean = {v["device"]: v["snapshot_id"] for v in listed[0]["volumes"]}
    new_data = after[swapped["/dev/sdf"]["volume_id"]]
    assert (new_data.disk_gb, new_data.flavor) == (50, "gp3")  # like the volume it replaces
    assert new_data.properties["snapshot_id"] == clean["/dev/sdf"]
    assert ("attached_to", ref) in plugin.edges(new_data)
    assert (after[data].state, after[data].provider_tags["estate:replaced-by"]) == (
        "inactive",
        swapped["/dev/sdf"]["volume_id"],
    )
    devices = {
        m["DeviceName"]: m["Ebs"]["DeleteOnTermination"]
        for m in ec2.describe_instances(InstanceIds=[ref])["Reservations"][0]["Instances"][0][
            "BlockDeviceMappings"
        ]
    }
    assert devices == {"/dev/sda1": True, "/dev/sdf": False}  # as before the revert

    rolled = act(provider, "rollback", ref, delete_replaced=True)
    gone = {v["old_volume_id"] for v in rolled["volumes"]}

    assert (rolled["reverted_to"], rolled["state"]) == ("stopped", "stopped")
    final = collected(provider)
    assert final[ref].state == "stopped"
    assert gone == set(volumes_of(vm).values())
    assert not gone & set(final)  # deleted, as asked
    assert act(provider, "snapshot_delete", ref, snapshot="clean")["deleted"] == "clean"
    assert [s["name"] for s in act(provider, "snapshot_list", ref)] == ["stopped"]
    with pytest.raises(NotFound, match="has no snapshot 'clean'"):
        act(provider, "snapshot_revert", ref, snapshot="clean")
    act(provider, "snapshot_delete", ref, snapshot="stopped")
    bare = collected(provider)[ref]
    assert "snapshots" not in bare.properties
    assert provider.action_availability("snapshot_revert", bare.to_dict()) == (
        False,
        "the instance has no snapshots",
    )


def test_the_refresh_after_an_action_reads_only_instances_and_the_groups_they_name(
    aws: MotoServer,
) -> None:
    autoscaling = aws.client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="workers", ImageId=AMI, InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="workers",
        LaunchConfigurationName="workers",
        MinSize=1,
        MaxSize=1,
        AvailabilityZones=["us-east-1a"],
    )
    provider = plugin.make()
    provider.target_resource_types = frozenset({"virtual_machine"})
    calls: list[str] = []

    found = plugin.collect(provider, on_call=calls.append)

    (worker,) = [r for r in found if r.resource_type_slug == "virtual_machine"]
    (group,) = [r for r in found if r.resource_type_slug == "auto_scaling_group"]
    assert ("member_of", group.ems_ref) in plugin.edges(worker)  # as a full collection says
    assert set(calls) == {
        "DescribeAutoScalingGroups",
        "DescribeInstances",
        "DescribeInstanceTypes",
        "DescribeSnapshots",
    }
