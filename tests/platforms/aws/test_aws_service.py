"""aws:aws through the service: seed 000's provider payload, the plugin as a child process.

The built-in plugin runs in its own environment (boto3 from its requirements.txt)
as a confined child of the service, which passes it the service's environment minus
``ESTATE_*``: ``AWS_ENDPOINT_URL`` set in the test reaches it, so the provider is
created with seed 000's body verbatim. Everything is read back through the API.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from emulators.faults import closed_port
from emulators.moto import MotoServer
from factories import API, all_resources, collect, patch_config
from platforms.aws.estate import AMI, READ_EC2, build, reader, small
from platforms.aws.plugin import SEED_BODY, seed_provider


def by_ref(client: TestClient, provider_id: int, **params: Any) -> dict[str, dict[str, Any]]:
    found = all_resources(client, provider=provider_id, **params)
    return {r["ems_ref"]: r for r in found}


def detail(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"{API}/resources/{resource['id']}/").json()
    return answer


def history(client: TestClient, resource: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/resources/{resource['id']}/history/").json()
    entries: list[dict[str, Any]] = answer["results"]
    return entries


def test_seed_payload_collects_and_tracks_changes_end_to_end(
    client: TestClient, aws: MotoServer
) -> None:
    estate = build(aws)
    provider = seed_provider(client)

    tested = client.post(f"{API}/providers/{provider}/test/").json()
    first = collect(client, provider)

    assert tested["ok"], tested
    assert "connected to AWS account 123456789012" in tested["message"]
    assert first["status"] == "completed", first
    resources = by_ref(client, provider)
    types = {r["resource_type"] for r in resources.values()}
    assert len(types) == 11
    web = detail(client, resources[estate.web[0]])
    assert (web["state"], web["flavor"], web["memory_mb"]) == ("running", "t3.large", 8192)
    edges = {(e["relationship_type"], e["direction"], e["ems_ref"]) for e in web["relationships"]}
    assert {
        ("member_of", "outgoing", estate.vpc),
        ("member_of", "outgoing", estate.security_group),
        ("attached_to", "incoming", estate.volume),
        ("routes_to", "incoming", estate.load_balancer),
    } <= edges
    assert all(e["resource_id"] for e in web["relationships"])  # every target was collected

    ec2 = aws.client("ec2")
    ec2.create_tags(Resources=[estate.web[0]], Tags=[{"Key": "env", "Value": "prod"}])
    ec2.stop_instances(InstanceIds=[estate.web[1]])
    ec2.modify_instance_attribute(InstanceId=estate.web[1], InstanceType={"Value": "t3.xlarge"})
    ec2.detach_volume(VolumeId=estate.volume, InstanceId=estate.web[0], Device="/dev/sdf")
    ec2.delete_volume(VolumeId=estate.volume)
    (new,) = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"]
    second = collect(client, provider)

    assert second["status"] == "completed", second
    assert second["resources_deleted"] == 1
    after = by_ref(client, provider, include_deleted=True)
    assert after[estate.volume]["is_deleted"]
    assert [e["kind"] for e in history(client, after[estate.volume])] == ["deleted", "created"]
    assert [e["kind"] for e in history(client, after[new["InstanceId"]])] == ["created"]
    resized = history(client, after[estate.web[1]])
    assert [e["kind"] for e in resized] == ["modified", "created"]
    assert resized[0]["changes"]["flavor"] == {"from": "t3.large", "to": "t3.xlarge"}
    assert resized[0]["changes"]["state"] == {"from": "running", "to": "stopped"}
    assert resized[0]["changes"]["memory_mb"] == {"from": 8192, "to": 16384}
    tagged = history(client, after[estate.web[0]])[0]
    assert tagged["kind"] == "modified"
    assert tagged["changes"]["provider_tags.env"] == {"from": None, "to": "prod"}
    assert "properties.block_devices" in tagged["changes"]  # the volume it lost


def test_failures_through_the_service_keep_the_inventory(
    client: TestClient, aws: MotoServer
) -> None:
    instance, bucket = small(aws)
    keys = reader(aws, READ_EC2)
    provider = seed_provider(client)
    assert collect(client, provider)["status"] == "completed"
    stored = len(by_ref(client, provider))
    aws.require_credentials()

    tested = client.post(f"{API}/providers/{provider}/test/").json()
    refused = collect(client, provider)

    assert not tested["ok"]
    assert tested["message"].startswith("unauthenticated: AWS refused the credentials")
    assert refused["status"] == "failed"
    assert "AWS refused the credentials" in refused["error_message"]
    assert SEED_BODY["connection_config"]["password"] not in str(refused)  # type: ignore[index]

    patch_config(client, provider, region="us-east-1", **keys)
    partial = collect(client, provider)

    assert partial["status"] == "partial", partial
    assert "could not read RDS instances in us-east-1" in partial["error_message"]
    assert "could not read S3 buckets" in partial["error_message"]
    assert partial["resources_deleted"] == 0
    kept = by_ref(client, provider)
    assert len(kept) == stored
    assert instance in kept
    assert bucket in kept  # unread this time, still there


def test_an_unreachable_endpoint_fails_the_run_and_the_test_in_seconds(
    client: TestClient, aws: MotoServer
) -> None:
    provider = seed_provider(client)
    patch_config(
        client,
        provider,
        **SEED_BODY["connection_config"],  # type: ignore[arg-type]
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        timeout=2,
    )
    started = time.monotonic()

    tested = client.post(f"{API}/providers/{provider}/test/").json()
    run = collect(client, provider)

    assert time.monotonic() - started < 20
    assert not tested["ok"]
    assert tested["message"].startswith("unreachable: Could not connect to the endpoint URL")
    assert run["status"] == "failed"
    assert "Could not connect to the endpoint URL" in run["error_message"]
