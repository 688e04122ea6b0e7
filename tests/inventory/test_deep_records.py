"""A plugin's resource nested deeper than the limit is rejected alone, the run goes on."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import all_resources, collect, create_provider, fixture_plugin, tarball, upload


@pytest.mark.parametrize(
    ("depth", "error"),
    [
        (100, "properties: nested deeper than the 64 levels allowed"),  # refused by the service
        (1000, "properties: nested too deeply to be sent as JSON"),  # by the SDK's encoder
    ],
)
def test_a_resource_nested_too_deep_is_rejected_per_record(
    client: TestClient, tmp_path: Path, depth: int, error: str
) -> None:
    folder = fixture_plugin("deep_properties", tmp_path / "deep", constants={"DEPTH": depth})
    assert upload(client, tarball(folder)).status_code == 201, "upload"
    provider = create_provider(
        client, name="deep", vendor="deep", provider_type="nest", connection_config={}
    )

    run = collect(client, provider["id"])

    assert run["status"] == "partial", (run["error_message"], run["log"][-3000:])
    assert run["resources_created"] == 2
    assert run["error_details"] == [
        {
            "ems_ref": "vm-deep",
            "index": 1,
            "error": error,
        }
    ]
    assert sorted(r["ems_ref"] for r in all_resources(client)) == ["vm-0", "vm-2"]
