"""ResourceData takes what client libraries hand back: pyVmomi's and boto3's own objects.

pyVmomi's values are read the way a vCenter's answer reaches a plugin: a real data
object serialised to SOAP and read back by pyVmomi's own deserialiser, which gives
its ``long``/``short``/``double`` subclasses, enum strings, ``str[]`` arrays and
datetimes. boto3's come from a real moto server on loopback: ``describe_instances``
(datetimes), ``stop_instances`` (``stopping``) and a DynamoDB table read through the
boto3 resource (``Decimal``, sets, ``Binary``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pyVmomi import SoapAdapter, VmomiSupport, vim

from estate.inventory.records import DATA_COLUMNS, to_record
from inventory_providers.base import ResourceData, ResourceValidationError
from inventory_providers.serve import _dumps, _json_dumps

PLAIN = (str, int, float, bool, type(None))
AMI = "ami-12c6146b"  # one of the images moto holds (listing them all takes seconds)


def from_the_wire(obj: Any) -> Any:
    """``obj`` as pyVmomi hands it to a plugin after reading it from a vCenter's answer."""
    return SoapAdapter.Deserialize(SoapAdapter.Serialize(obj))


def assert_plain(value: Any, where: str = "value") -> None:
    """Every value, however nested, is exactly a plain JSON type (no subclass)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r} is {type(key)}"
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        assert type(value) is list, f"{where} is {type(value)}"
        for index, item in enumerate(value):
            assert_plain(item, f"{where}[{index}]")
    else:
        assert type(value) in PLAIN, f"{where} = {value!r} is {type(value)}"


def stored(resource: ResourceData) -> dict[str, Any]:
    """The record's columns as the service stores them, sent as the child sends it."""
    record = to_record(_dumps(resource.to_dict()))
    return dict(zip(DATA_COLUMNS, record.values, strict=True))


# -- pyVmomi ---------------------------------------------------------------------------


@pytest.fixture
def host_hardware() -> Any:
    return from_the_wire(
        vim.host.Summary.HardwareSummary(
            vendor="Dell Inc.",
            model="PowerEdge R750",
            uuid="4c4c4544-0042",
            memorySize=VmomiSupport.long(512 * 2**30),
            cpuModel="Intel Xeon Gold 6338",
            cpuMhz=2000,
            numCpuPkgs=VmomiSupport.short(2),
            numCpuCores=VmomiSupport.short(64),
            numCpuThreads=VmomiSupport.short(128),
            numNics=4,
            numHBAs=2,
        )
    )


@pytest.fixture
def vm_runtime() -> Any:
    return from_the_wire(
        vim.vm.RuntimeInfo(
            powerState="poweredOn",
            connectionState="connected",
            bootTime=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
            memoryOverhead=VmomiSupport.long(1 << 27),
        )
    )


def test_pyvmomi_hands_back_its_own_subclasses(host_hardware: Any, vm_runtime: Any) -> None:
    """What the tests below feed ResourceData is really pyVmomi's own types."""
    assert type(host_hardware.numCpuCores) is VmomiSupport.short
    assert type(host_hardware.memorySize) is VmomiSupport.long
    assert type(vm_runtime.powerState) is vim.VirtualMachine.PowerState
    assert isinstance(vm_runtime.powerState, str) and type(vm_runtime.powerState) is not str
    assert isinstance(vm_runtime.bootTime, datetime)


def test_a_host_from_pyvmomi_values_stores_plain_values(host_hardware: Any) -> None:
    resource = ResourceData(
        ems_ref="host-12",
        resource_type_slug="hypervisor_host",
        name=host_hardware.model,
        cpu_count=host_hardware.numCpuCores,
        memory_mb=host_hardware.memorySize // 2**20,
        properties={
            "cpu_packages": host_hardware.numCpuPkgs,
            "threads": host_hardware.numCpuThreads,
            "memory_bytes": host_hardware.memorySize,
        },
    )

    assert (resource.cpu_count, type(resource.cpu_count)) == (64, int)
    assert (resource.memory_mb, type(resource.memory_mb)) == (524288, int)
    assert resource.properties == {"cpu_packages": 2, "threads": 128, "memory_bytes": 512 * 2**30}
    assert_plain(resource.to_dict())
    row = stored(resource)
    assert (row["cpu_count"], row["properties"]["threads"]) == (64, 128)


def test_a_vm_from_pyvmomi_values_settles_its_power_state(vm_runtime: Any) -> None:
    nic = from_the_wire(
        vim.vm.GuestInfo.NicInfo(
            ipAddress=["10.0.0.5", "fe80::250:56ff:fe00:5"],
            macAddress="00:50:56:00:00:05",
            network="VM Network",
            connected=True,
            deviceConfigId=4000,
        )
    )
    disk = from_the_wire(
        vim.vm.device.VirtualDisk(
            key=2000, capacityInKB=VmomiSupport.long(41943040), unitNumber=0, controllerKey=1000
        )
    )
    assert type(nic.ipAddress) is not list and isinstance(nic.ipAddress, list)  # str[]

    resource = ResourceData(
        ems_ref="vm-42",
        resource_type_slug="virtual_machine",
        state=vm_runtime.powerState,
        boot_time=vm_runtime.bootTime,
        ip_addresses=nic.ipAddress,
        mac_addresses=[nic.macAddress],
        disk_gb=disk.capacityInKB / 2**20,
        properties={
            "connection_state": vm_runtime.connectionState,
            "memory_overhead": vm_runtime.memoryOverhead,
            "disks": [{"key": disk.key, "capacity_kb": disk.capacityInKB}],
        },
    )

    assert (resource.state, resource.power_state) == ("running", "poweredOn")
    assert type(resource.power_state) is str
    assert resource.boot_time == "2024-05-01T10:00:00+00:00"
    assert resource.ip_addresses == ["10.0.0.5", "fe80::250:56ff:fe00:5"]
    assert resource.disk_gb == 40.0
    assert resource.properties["disks"] == [{"key": 2000, "capacity_kb": 41943040}]
    assert resource.properties["connection_state"] == "connected"
    assert_plain(resource.to_dict())
    row = stored(resource)
    assert (row["state"], row["power_state"], row["boot_time"]) == (
        "running",
        "poweredOn",
        "2024-05-01T10:00:00+00:00",
    )


def test_a_pyvmomi_double_stays_a_number_on_the_wire() -> None:
    """orjson writes no float subclass itself: the SDK's encoder keeps it a number, for
    a record a plugin yields as a dict, with either encoder."""
    rank = from_the_wire(
        vim.storageDrs.PlacementRankResult(
            key="rank-1",
            candidate=vim.ClusterComputeResource("domain-c7"),
            utilization=VmomiSupport.double(61.5),
            reservedSpaceMB=VmomiSupport.long(10),
            usedSpaceMB=VmomiSupport.long(20),
            totalSpaceMB=VmomiSupport.long(100),
            faults=[],
        )
    )
    assert type(rank.utilization) is VmomiSupport.double
    record = {
        "ems_ref": "domain-c7",
        "resource_type_slug": "container_orchestration_platform",
        "disk_gb": rank.totalSpaceMB / 1024,
        "properties": {"utilization": rank.utilization, "used_mb": rank.usedSpaceMB},
    }

    for encode in (_dumps, _json_dumps):
        sent = json.loads(encode(record))
        assert sent["properties"] == {"utilization": 61.5, "used_mb": 20}, encode
        assert to_record(encode(record)).values[DATA_COLUMNS.index("properties")] == {
            "utilization": 61.5,
            "used_mb": 20,
        }
    made = ResourceData(**record)
    assert made.properties == {"utilization": 61.5, "used_mb": 20}
    assert type(made.properties["utilization"]) is float


def test_a_refused_pyvmomi_value_names_field_value_and_type() -> None:
    hardware = from_the_wire(
        vim.host.Summary.HardwareSummary(
            numCpuCores=VmomiSupport.short(-1), memorySize=VmomiSupport.long(-1), numNics=0
        )
    )

    with pytest.raises(ResourceValidationError) as caught:
        ResourceData(
            ems_ref="h", resource_type_slug="hypervisor_host", memory_mb=hardware.memorySize
        )

    assert str(caught.value) == "memory_mb: must be a non-negative integer, got pyVmomi long -1"
    with pytest.raises(ResourceValidationError, match=r"cpu_count: .* got pyVmomi short -1"):
        ResourceData(
            ems_ref="h", resource_type_slug="hypervisor_host", cpu_count=hardware.numCpuCores
        )


def test_a_nested_pyvmomi_object_is_refused_naming_its_path() -> None:
    cluster = vim.ClusterComputeResource("domain-c7")

    with pytest.raises(ResourceValidationError) as caught:
        ResourceData(
            ems_ref="vm-1",
            resource_type_slug="virtual_machine",
            properties={"placement": [{"cluster": "c1"}, {"cluster": cluster}]},
        )

    assert caught.value.field == "properties.placement[1].cluster"
    assert "pyVmomi vim.ClusterComputeResource" in str(caught.value)
    assert "domain-c7" in str(caught.value)


# -- boto3 (moto) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    """A moto server on a free loopback port; the keyword arguments of a boto3 client."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "endpoint_url": f"http://{host}:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    finally:
        server.stop()


def test_an_ec2_instance_as_boto3_describes_it(aws: dict[str, str]) -> None:
    ec2 = boto3.client("ec2", **aws)
    launched = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    instance_id = launched["Instances"][0]["InstanceId"]
    stopping = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert isinstance(described["LaunchTime"], datetime)

    resource = ResourceData(
        ems_ref=described["InstanceId"],
        resource_type_slug="virtual_machine",
        flavor=described["InstanceType"],
        state=stopping["CurrentState"]["Name"],
        boot_time=described["LaunchTime"],
        ems_created_on=described["LaunchTime"],
        properties={
            "block_devices": described["BlockDeviceMappings"],
            "placement": described["Placement"],
        },
    )

    assert (resource.state, resource.power_state) == ("stopped", "stopping")
    assert resource.boot_time == described["LaunchTime"].isoformat()
    attached = described["BlockDeviceMappings"][0]["Ebs"]["AttachTime"]
    assert resource.properties["block_devices"][0]["Ebs"]["AttachTime"] == attached.isoformat()
    assert_plain(resource.to_dict())
    row = stored(resource)
    assert row["state"] == "stopped"
    assert row["properties"]["block_devices"][0]["Ebs"]["AttachTime"] == attached.isoformat()


@pytest.fixture(scope="module")
def dynamodb_item(aws: dict[str, str]) -> dict[str, Any]:
    """An item as the boto3 DynamoDB resource reads it back: Decimals, a set, Binary."""
    table = boto3.resource("dynamodb", **aws).create_table(
        TableName="machines",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.put_item(
        Item={
            "id": "m-1",
            "cpus": 8,
            "memory_mb": 16384,
            "disk_gb": Decimal("40.5"),
            "load": Decimal("0.25"),
            "roles": {"web", "db", "cache"},
            "ports": [22, 443],
            "checksum": b"\x00\x01",
        }
    )
    item: dict[str, Any] = table.get_item(Key={"id": "m-1"})["Item"]
    return item


def test_decimals_and_sets_from_dynamodb_become_numbers_and_lists(
    dynamodb_item: dict[str, Any],
) -> None:
    assert type(dynamodb_item["cpus"]) is Decimal and type(dynamodb_item["roles"]) is set
    item = {key: value for key, value in dynamodb_item.items() if key != "checksum"}

    resource = ResourceData(
        ems_ref=item["id"],
        resource_type_slug="virtual_machine",
        cpu_count=item["cpus"],
        memory_mb=item["memory_mb"],
        disk_gb=item["disk_gb"],
        properties=item,
    )

    assert (resource.cpu_count, type(resource.cpu_count)) == (8, int)
    assert (resource.disk_gb, type(resource.disk_gb)) == (40.5, float)
    assert resource.properties["load"] == 0.25
    assert resource.properties["roles"] == ["cache", "db", "web"]  # sorted: same hash each run
    assert resource.properties["ports"] == [22, 443]
    assert_plain(resource.to_dict())
    assert stored(resource)["properties"]["roles"] == ["cache", "db", "web"]


def test_a_fractional_decimal_is_no_count_and_binary_is_refused_by_path(
    dynamodb_item: dict[str, Any],
) -> None:
    with pytest.raises(ResourceValidationError) as fraction:
        ResourceData(
            ems_ref="m-1", resource_type_slug="virtual_machine", cpu_count=dynamodb_item["load"]
        )
    with pytest.raises(ResourceValidationError) as binary:
        ResourceData(ems_ref="m-1", resource_type_slug="virtual_machine", properties=dynamodb_item)

    assert (
        str(fraction.value) == "cpu_count: must be a non-negative integer, got decimal Decimal 0.25"
    )
    assert binary.value.field == "properties.checksum"
    assert "boto3 Binary" in str(binary.value)
