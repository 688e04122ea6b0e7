"""resource-drift/: the change feed across resources, in the UIS's shape."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from factories import API, collect, create_provider, patch_config

ESTATE = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 50, "churn_percent": 10}
FIELDS = {
    "id",
    "resource",
    "resource_name",
    "resource_type",
    "resource_type_slug",
    "ems_ref",
    "provider",
    "provider_name",
    "collection_run",
    "collection_run_started_at",
    "previous_collection_run",
    "previous_collection_run_started_at",
    "drift_type",
    "detected_at",
    "changes",
}


def _all(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following ``next``."""
    response = client.get(f"{API}/{path}", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    items: list[dict[str, Any]] = list(page["results"])
    while page["next"]:
        page = client.get(page["next"]).json()
        items.extend(page["results"])
    assert len(items) == response.json()["count"]
    return items


def _history(client: TestClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A provider collected four times: created, churned, shrunk, grown back."""
    provider = create_provider(client, name="dc", connection_config={**ESTATE, "generation": 0})
    runs = [collect(client, provider["id"])]
    patch_config(client, provider["id"], **ESTATE, generation=1)
    runs.append(collect(client, provider["id"]))
    patch_config(client, provider["id"], **{**ESTATE, "vms_per_host": 45}, generation=1)
    runs.append(collect(client, provider["id"]))
    patch_config(client, provider["id"], **ESTATE, generation=1)
    runs.append(collect(client, provider["id"]))
    assert [r["status"] for r in runs] == ["completed"] * 4
    return provider, runs


def test_drift_lists_every_change_newest_first_with_its_runs(client: TestClient) -> None:
    provider, (first, churned, shrunk, grown) = _history(client)

    items = _all(client, "resource-drift/")
    assert {frozenset(item) for item in items} == {frozenset(FIELDS)}
    assert [i["drift_type"] for i in items] == ["restored"] * 10 + ["deleted"] * 10 + [
        "modified"
    ] * 10
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    assert all(i["provider"] == provider["id"] for i in items)
    assert {i["provider_name"] for i in items} == {"dc"}

    modified = items[-1]
    assert modified["collection_run"] == churned["id"]
    assert modified["previous_collection_run"] == first["id"]
    assert modified["collection_run_started_at"] is not None
    assert modified["previous_collection_run_started_at"] is not None
    assert modified["resource_type"] == modified["resource_type_slug"] == "virtual_machine"
    assert modified["changes"]["properties.change_version"] == {"from": 0, "to": 1}
    assert all(set(change) == {"from", "to"} for change in modified["changes"].values())

    deleted = [i for i in items if i["drift_type"] == "deleted"]
    assert {i["collection_run"] for i in deleted} == {shrunk["id"]}
    assert {i["previous_collection_run"] for i in deleted} == {churned["id"]}
    assert sorted(i["ems_ref"] for i in deleted) == [f"vm-{n:06d}" for n in range(91, 101)]
    restored = [i for i in items if i["drift_type"] == "restored"]
    assert {i["collection_run"] for i in restored} == {grown["id"]}
    assert {i["previous_collection_run"] for i in restored} == {churned["id"]}

    detail = client.get(f"{API}/resource-drift/{modified['id']}/")
    assert detail.status_code == 200
    assert detail.json() == modified
    assert client.get(f"{API}/resource-drift/999999/").status_code == 404


def test_drift_filters_are_one_query_each(client: TestClient) -> None:
    provider, (first, churned, _, _) = _history(client)
    other = create_provider(client, name="other", connection_config=ESTATE)
    collect(client, other["id"])

    def ids(**params: Any) -> list[int]:
        return [i["id"] for i in _all(client, "resource-drift/", **params)]

    everything = ids()
    assert len(everything) == 30
    assert len(ids(collection_run=churned["id"])) == 10
    assert len(ids(collection_run=first["id"])) == 0  # created is not drift
    assert len(ids(drift_type="deleted")) == 10
    assert ids(provider=provider["id"]) == everything
    assert ids(resource__provider=provider["id"]) == everything
    assert ids(provider=other["id"]) == []
    assert ids(resource_type="virtual_machine") == everything
    assert ids(resource_type="hypervisor_host") == []
    assert ids(ordering="detected_at") == sorted(everything)
    assert ids(ordering="-detected_at") == everything
    by_type = _all(client, "resource-drift/", ordering="drift_type")
    assert [i["drift_type"] for i in by_type] == sorted(i["drift_type"] for i in by_type)

    # "since this time": the feed after the churn's run finished
    since = churned["finished_at"]
    after = ids(detected_after=since)
    assert len(after) == 20
    assert set(ids(detected_before=since)) == set(everything) - set(after)

    vm = next(i for i in _all(client, "resource-drift/", drift_type="restored"))
    assert len(ids(resource=vm["resource"])) == 2  # deleted, then restored
    own = client.get(f"{API}/resources/{vm['resource']}/drift/").json()
    assert [i["drift_type"] for i in own["results"]] == ["restored", "deleted"]
    assert own["count"] == 2 and {frozenset(i) for i in own["results"]} == {frozenset(FIELDS)}
    restored = client.get(f"{API}/resources/{vm['resource']}/drift/?drift_type=restored")
    assert [i["drift_type"] for i in restored.json()["results"]] == ["restored"]

    paged = client.get(f"{API}/resource-drift/", params={"page": 2, "page_size": 7}).json()
    assert paged["count"] == 30
    assert [i["id"] for i in paged["results"]] == everything[7:14]
    assert paged["next"] and paged["previous"]


def test_drift_refuses_bad_filters_naming_them(client: TestClient) -> None:
    for params, name in (
        ({"drift_type": "created"}, "drift_type"),
        ({"resource_type": "vm"}, "resource_type"),
        ({"ordering": "name"}, "ordering"),
        ({"detected_after": "yesterday"}, "detected_after"),
        ({"collection_run": "x"}, "collection_run"),
        ({"since": "2026-01-01"}, "since"),
        ({"provider": 1, "resource__provider": 2}, "resource__provider"),
    ):
        response = client.get(f"{API}/resource-drift/", params=params)
        assert response.status_code == 400, (params, response.text)
        assert name in response.json()["detail"]
    assert client.get(f"{API}/resources/999/drift/").status_code == 404


def test_drift_and_sightings_show_only_visible_organizations(
    client: TestClient, anonymous: TestClient
) -> None:
    _history(client)
    other = client.post(f"{API}/organizations/", json={"name": "B"}).json()["id"]
    credentials = {}
    for name, organization in (("outsider", other), ("insider", 1)):
        user = client.post(f"{API}/users/", json={"username": name, "password": "pw-" * 4})
        assert user.status_code == 201, user.text
        member = {"user": user.json()["id"], "role": "viewer"}
        added = client.post(f"{API}/organizations/{organization}/members/", json=member)
        assert added.status_code == 201, added.text
        credentials[name] = (name, "pw-" * 4)
    change = client.get(f"{API}/resource-drift/").json()["results"][0]

    outsider, insider = credentials["outsider"], credentials["insider"]
    for path in ("resource-drift/", "resource-sightings/"):
        assert anonymous.get(f"{API}/{path}", auth=outsider).json()["count"] == 0
    assert anonymous.get(f"{API}/resource-drift/", auth=insider).json()["count"] == 30
    # 110 current, 10 ended by the churn, 10 ended by the deletion (a restored
    # resource starts a new sighting)
    assert anonymous.get(f"{API}/resource-sightings/", auth=insider).json()["count"] == 130
    run = {"collection_run": change["collection_run"]}  # decided by the run's provider
    of_run = client.get(f"{API}/resource-drift/", params=run).json()
    assert of_run["count"] > 0
    assert anonymous.get(f"{API}/resource-drift/", params=run, auth=insider).json() == of_run
    mine = anonymous.get(f"{API}/resource-drift/", params=run, auth=outsider).json()
    assert (mine["count"], mine["results"]) == (0, [])
    for path in (
        f"resource-drift/{change['id']}/",
        f"resources/{change['resource']}/drift/",
        f"resources/{change['resource']}/sightings/",
        f"resource-sightings/{change['resource']}-0/",
    ):
        assert anonymous.get(f"{API}/{path}", auth=outsider).status_code == 404
        assert anonymous.get(f"{API}/{path}", auth=insider).status_code == 200
