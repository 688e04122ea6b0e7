"""Targeted collections: ``POST collect/`` with ``collection_type`` targeted collects,
updates and deletes only the resource types asked for, whether or not the plugin
filters what it yields."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    fixture_plugin,
    patch_config,
    tarball,
    upload,
    wait_for_run,
)


def _targeted(client: TestClient, provider_id: int, *types: str) -> dict[str, Any]:
    response = client.post(
        f"{API}/providers/{provider_id}/collect/",
        json={"collection_type": "targeted", "target_resource_types": list(types)},
    )
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()
    assert started["collection_type"] == "targeted"
    assert started["target_resource_types"] == sorted(types)
    return wait_for_run(client, started["id"])


def _alive(client: TestClient, provider_id: int) -> dict[str, dict[str, Any]]:
    return {r["ems_ref"]: r for r in all_resources(client, provider=provider_id)}


def test_a_targeted_collection_of_vms_updates_and_deletes_only_vms(client: TestClient) -> None:
    provider = create_provider(
        client, connection_config={"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
    )
    full = collect(client, provider["id"])
    assert full["collection_type"] == "full" and full["target_resource_types"] == []
    before = _alive(client, provider["id"])
    # One host and half the VMs are gone from the platform.
    patch_config(client, provider["id"], clusters=1, hosts_per_cluster=1, vms_per_host=3)

    run = _targeted(client, provider["id"], "virtual_machine")

    assert run["status"] == "completed", run
    assert run["resources_found"] == 3  # the plugin honoured the filter: VMs only
    assert run["resources_deleted"] == 3
    after = _alive(client, provider["id"])
    vms = {ref for ref, r in after.items() if r["resource_type"] == "virtual_machine"}
    assert vms == {"vm-000001", "vm-000002", "vm-000003"}
    assert {"host-0001", "host-0002"} <= set(after)  # host-0002 is gone, yet not deleted
    for ref, resource in after.items():
        if resource["resource_type"] != "virtual_machine":
            assert resource == before[ref]  # not touched at all
    assert (
        "targeted collection of virtual_machine"
        in client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    )


def test_a_plugin_that_ignores_the_filter_still_affects_only_the_targeted_types(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("mixed_resources", tmp_path / "mixed")
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client, vendor="mixed", provider_type="bag", connection_config={"bad": False}
    )
    first = collect(client, provider["id"])
    before = _alive(client, provider["id"])

    run = _targeted(client, provider["id"], "hypervisor_host")

    assert run["status"] == "completed", run
    assert (run["resources_found"], run["resources_unchanged"]) == (1, 1)
    assert run["resources_deleted"] == 0
    after = _alive(client, provider["id"])
    assert set(after) == set(before)
    assert after["host-1"]["last_seen_at"] > before["host-1"]["last_seen_at"]
    assert after["vm-0"] == before["vm-0"]
    assert first["id"] != run["id"]
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert "4 resource(s) of types this targeted run did not ask for" in log


def test_a_bad_collect_body_is_refused_naming_the_field_and_starts_nothing(
    client: TestClient,
) -> None:
    provider = create_provider(client)
    url = f"{API}/providers/{provider['id']}/collect/"
    bodies = {
        "collection_type": {"collection_type": "partial"},
        "target_resource_types": {"collection_type": "targeted"},
        "target_resource_types[1]": {
            "collection_type": "targeted",
            "target_resource_types": ["virtual_machine", "flux_capacitor"],
        },
        "target_resource_types[0]": {
            "collection_type": "targeted",
            "target_resource_types": ["relational_db"],  # known, but not this plugin's
        },
        "only with collection_type 'targeted'": {
            "collection_type": "full",
            "target_resource_types": ["virtual_machine"],
        },
        "types": {"types": ["virtual_machine"]},
    }

    for named, body in bodies.items():
        response = client.post(url, json=body)

        assert response.status_code == 400, (body, response.text)
        assert named in response.json()["detail"], (named, response.text)
    assert (
        client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()["count"]
        == 0
    )
    full = client.post(url, json={"collection_type": "full"})
    assert full.status_code == 202 and full.json()["collection_type"] == "full"
    wait_for_run(client, full.json()["id"])
