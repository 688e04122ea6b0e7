"""aws:aws is a plugin folder like any other: packed as seed 000's curl line packs it,
uploaded, installed with boto3 in an environment of its own, and collecting."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from emulators.moto import MotoServer
from factories import API, as_release, collect, tarball, upload
from platforms.aws import plugin
from platforms.aws.estate import small
from platforms.aws.plugin import seed_provider


def test_the_folder_uploads_installs_and_collects_like_a_third_party_plugin(
    client: TestClient, aws: MotoServer, tmp_path: Path
) -> None:
    instance, bucket = small(aws)

    # The built-in 1.0.0 is read-only: the folder is released as the next version.
    response = upload(client, tarball(as_release(plugin.FOLDER, tmp_path / "aws", "1.0.1")))

    assert response.status_code in (200, 201), response.text
    uploaded = response.json()
    assert (uploaded["key"], uploaded["class_path"]) == ("aws:aws", "provider.AwsProvider")
    assert len(uploaded["supported_resource_types"]) == 11
    versions = client.get(f"{API}/provider-plugins/aws:aws/").json()["versions"]
    assert [v["source"] for v in versions if v["is_active"]] == ["local"], versions
    assert "boto3" in next(v["install_log"] for v in versions if v["is_active"])

    run = collect(client, seed_provider(client))

    assert run["status"] == "completed", run
    refs = {r["ems_ref"] for r in client.get(f"{API}/resources/").json()["results"]}
    assert {instance, bucket} <= refs
