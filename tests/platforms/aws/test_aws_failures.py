"""aws:aws fails clearly, bounded in time, and says what could not be read.

Credentials refused and an endpoint out of reach fail ``connect`` with the SDK's
error kinds; one API denied or one region down leaves the rest collected and names
the part (``report_incomplete``: the run ends partial and deletes nothing);
throttling is retried with backoff. moto checks credentials and IAM policies once a
test asks it to; region outages and throttling come from a proxy in front of moto
(tests/emulators/faults.py), reached through ``HTTP_PROXY``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from emulators.faults import closed_port, fault_proxy, region_down, throttle
from emulators.moto import SECRET_KEY, MotoServer
from inventory_providers.errors import (
    InvalidConfig,
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
    Unreachable,
)
from platforms.aws import plugin
from platforms.aws.estate import READ_EC2, build, reader, small


def test_credentials_aws_refuses_fail_connect_as_unauthenticated(aws: MotoServer) -> None:
    aws.require_credentials()  # the seed's example key is no IAM user of this account

    with pytest.raises(Unauthenticated) as raised:
        plugin.collect(plugin.make())
    ok, message = plugin.make().validate_connection()

    assert "InvalidClientTokenId" in str(raised.value)
    assert "username (the access key id)" in str(raised.value)
    assert not ok
    assert message.startswith("unauthenticated: AWS refused the credentials")
    assert SECRET_KEY not in message


def test_a_wrong_secret_for_a_real_key_is_refused_too(aws: MotoServer) -> None:
    keys = reader(aws, READ_EC2)
    aws.require_credentials()

    ok, message = plugin.make(**{**keys, "password": "not-the-secret"}).validate_connection()
    good, greeting = plugin.make(**keys).validate_connection()

    assert not ok and "SignatureDoesNotMatch" in message, message
    assert good, greeting
    assert "user/reader-2" in greeting


def test_a_role_the_credentials_may_not_assume_is_refused_naming_the_role(
    aws: MotoServer,
) -> None:
    keys = reader(aws, READ_EC2)  # no sts:AssumeRole
    aws.require_credentials()
    role = "arn:aws:iam::111111111111:role/EstateReadOnly"

    ok, message = plugin.make(**keys, role_arn=role).validate_connection()

    assert not ok
    assert message.startswith("unauthenticated: ")
    assert f"the credentials may not assume {role}" in message


def test_apis_the_credentials_may_not_read_are_named_and_the_rest_is_collected(
    aws: MotoServer,
) -> None:
    estate = build(aws)
    keys = reader(aws, READ_EC2)
    aws.require_credentials()

    provider = plugin.make(**keys)
    found = plugin.by_type(plugin.collect(provider))

    assert set(estate.web) <= set(found["virtual_machine"])
    assert estate.volume in found["block_storage"]
    assert estate.vpc in found["vpc"]
    parts = {p["part"]: p["error"] for p in provider.incomplete_parts}
    assert set(parts) == {
        "Auto Scaling groups in us-east-1",
        "load balancers in us-east-1",
        "RDS instances in us-east-1",
        "Lambda functions in us-east-1",
        "EKS clusters in us-east-1",
        "S3 buckets",
    }
    assert "rds:DescribeDBInstances" in parts["RDS instances in us-east-1"]
    assert "leave that service out of the 'services' parameter" in parts["S3 buckets"]
    assert "auto_scaling_group" not in found


def test_without_instance_types_the_instances_come_without_sizes(
    aws: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    instance, _ = small(aws)
    keys = reader(aws, ["ec2:DescribeInstances", "sts:GetCallerIdentity"])
    aws.require_credentials()

    provider = plugin.make(**keys, services=["ec2"])
    (vm,) = plugin.collect(provider)

    assert (vm.ems_ref, vm.flavor, vm.state) == (instance, "m1.small", "running")
    assert (vm.cpu_count, vm.memory_mb) == (None, None)
    assert provider.incomplete_parts == []  # every run alike: no part missing, no change
    assert "grant ec2:DescribeInstanceTypes to collect cpu_count and memory_mb" in caplog.text


def test_nothing_readable_at_all_fails_the_collection(aws: MotoServer) -> None:
    small(aws)
    keys = reader(aws, ["sts:GetCallerIdentity"])
    aws.require_credentials()

    with pytest.raises(ProviderError, match=r"AccessDenied|UnauthorizedOperation"):
        plugin.collect(plugin.make(**keys, services=["ec2", "rds"]))


def test_an_endpoint_nobody_listens_on_is_unreachable_in_seconds(aws: MotoServer) -> None:
    started = time.monotonic()

    with pytest.raises(Unreachable) as raised:
        plugin.collect(plugin.make(endpoint_url=f"http://127.0.0.1:{closed_port()}", timeout=2))

    assert time.monotonic() - started < 8
    assert "Could not connect to the endpoint URL" in str(raised.value)
    assert "check the endpoint, the region and the network" in str(raised.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung endpoint."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def test_an_endpoint_that_never_answers_fails_within_the_timeout(
    aws: MotoServer, silent_server: str
) -> None:
    started = time.monotonic()

    with pytest.raises(ProviderTimeout) as raised:
        plugin.collect(plugin.make(endpoint_url=silent_server, timeout=1))

    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 6, elapsed  # two attempts of one second, one short backoff
    assert "did not answer within 1 s; raise timeout" in str(raised.value)


def test_a_region_down_is_reported_and_the_other_regions_are_collected(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    east = small(aws, "us-east-1")
    west = small(aws, "eu-west-1")
    with fault_proxy(region_down("eu-west-1")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        provider = plugin.make(regions=["us-east-1", "eu-west-1"], max_attempts=2)
        found = plugin.by_type(plugin.collect(provider))

    assert set(found["virtual_machine"]) == {east[0]}
    assert set(found["object_storage"]) == {east[1], west[1]}  # S3's listing is account-wide
    parts = [p["part"] for p in provider.incomplete_parts]
    assert "EC2 instances in eu-west-1" in parts
    assert all(part.endswith("in eu-west-1") for part in parts)
    assert proxy.count("DescribeInstances", "eu-west-1") == 2  # max_attempts
    assert proxy.count("DescribeInstances", "us-east-1") == 1


def test_throttling_is_retried_with_backoff_until_it_passes(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, _ = small(aws)
    with fault_proxy(throttle("DescribeInstances", times=2)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        provider = plugin.make(services=["ec2"])
        found = plugin.by_type(plugin.collect(provider))

    assert provider.incomplete_parts == []
    assert set(found["virtual_machine"]) == {instance}
    assert proxy.count("DescribeInstances") == 3  # two throttled, then through


def test_throttling_beyond_max_attempts_fails_that_part_only(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, bucket = small(aws)
    with fault_proxy(throttle("DescribeInstances", times=None)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        provider = plugin.make(max_attempts=3, services=["ec2", "s3"])
        found = plugin.by_type(plugin.collect(provider))

    (part,) = provider.incomplete_parts
    assert part["part"] == "EC2 instances in us-east-1"
    assert "AWS throttled DescribeInstances beyond 3 attempts" in part["error"]
    assert "retry_mode to 'adaptive'" in part["error"]
    assert set(found) == {"object_storage"}
    assert bucket in found["object_storage"]
    assert instance not in str(found)
    assert proxy.count("DescribeInstances") == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"password": None}, "give both username (the access key id) and password"),
        ({"region": "Virginia"}, "connection_config.region: 'Virginia' is not an AWS region"),
        ({"regions": ["us-east-1", "moon-1"]}, "connection_config.regions[1]: 'moon-1'"),
        ({"services": ["ec2", "dynamodb"]}, "unknown service 'dynamodb'; known: autoscaling"),
        ({"timeout": 0}, "connection_config.timeout: must be 1 to 300, got 0"),
        ({"max_attempts": "5"}, "connection_config.max_attempts: must be an integer"),
        ({"retry_mode": "eager"}, "connection_config.retry_mode: must be one of standard"),
        ({"role_arn": "EstateReadOnly"}, "connection_config.role_arn: 'EstateReadOnly' is not"),
        ({"endpoint_url": "localhost:4566"}, "connection_config.endpoint_url: 'localhost:4566'"),
        ({"verify_ssl": "no"}, "connection_config.verify_ssl: must be true or false"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidConfig) as raised:
        plugin.make(**config).connect()

    assert message in str(raised.value)
