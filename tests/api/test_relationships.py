"""``resource-relationships/``: every edge once, as the seed service lists them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from factories import API, all_resources, collect, create_provider

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
FIELDS = {
    "id", "source", "source_name", "target", "target_name", "relationship_type", "properties",
    "provider", "source_ems_ref", "target_ems_ref", "source_resource_type",
    "target_resource_type",
}  # fmt: skip
PASSWORD = "edge-password"


def _list(client: TestClient, auth: Any = None, **params: Any) -> Any:
    extra = {"auth": auth} if auth is not None else {}
    response = client.get(f"{API}/resource-relationships/", params=params, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def _key(edge: dict[str, Any]) -> tuple[Any, ...]:
    return (edge["source"], edge["relationship_type"], edge["target_ems_ref"])


def _collected(client: TestClient) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    provider = create_provider(client, connection_config=SMALL)
    assert collect(client, provider["id"])["status"] == "completed"
    return provider, {r["ems_ref"]: r for r in all_resources(client)}


def test_every_outgoing_edge_is_listed_once_with_names(client: TestClient) -> None:
    provider, by_ref = _collected(client)
    expected = set()
    for resource in by_ref.values():
        detail = client.get(f"{API}/resources/{resource['id']}/").json()
        for edge in detail["relationships"]:
            if edge["direction"] == "outgoing":
                expected.add((resource["id"], edge["relationship_type"], edge["ems_ref"]))

    page = _list(client)
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == len(expected) == len(page["results"])
    assert {_key(e) for e in page["results"]} == expected
    vm, host = by_ref["vm-000001"], by_ref["host-0001"]
    runs_on = next(
        e
        for e in page["results"]
        if e["source"] == vm["id"] and e["relationship_type"] == "runs_on"
    )
    assert set(runs_on) == FIELDS
    assert runs_on["source_name"] == vm["name"]
    assert (runs_on["target"], runs_on["target_name"]) == (host["id"], host["name"])
    assert runs_on["target_ems_ref"] == "host-0001" and runs_on["properties"] == {}
    assert runs_on["provider"] == provider["id"]
    assert (runs_on["source_resource_type"], runs_on["target_resource_type"]) == (
        "virtual_machine",
        "hypervisor_host",
    )
    detail = client.get(f"{API}/resource-relationships/{runs_on['id']}/")
    assert detail.status_code == 200 and detail.json() == runs_on

    # Pages of any size give the same edges, in the same order.
    paged: list[dict[str, Any]] = []
    number = 1
    while True:
        one = _list(client, page=number, page_size=7)
        assert one["count"] == page["count"]
        paged += one["results"]
        if one["next"] is None:
            break
        assert f"page={number + 1}" in one["next"]
        number += 1
    assert paged == page["results"]
    assert _list(client, page=99)["results"] == []


def test_filters_by_source_target_type_and_provider(client: TestClient) -> None:
    provider, by_ref = _collected(client)
    vm, host, cluster = by_ref["vm-000001"], by_ref["host-0001"], by_ref["cluster-01"]

    from_vm = _list(client, source=vm["id"])["results"]
    assert {e["relationship_type"] for e in from_vm} == {"runs_on", "attached_to", "connected_to"}
    assert {e["source"] for e in from_vm} == {vm["id"]}
    to_host = _list(client, target=host["id"])["results"]
    assert sorted(e["source_ems_ref"] for e in to_host) == ["vm-000001", "vm-000003", "vm-000005"]
    assert {e["target"] for e in to_host} == {host["id"]}
    members = _list(client, relationship_type="member_of")
    assert sorted(e["source_ems_ref"] for e in members["results"]) == ["host-0001", "host-0002"]
    assert {e["target"] for e in members["results"]} == {cluster["id"]}
    both = _list(client, target=cluster["id"], relationship_type="member_of")
    assert both["count"] == 2
    assert _list(client, target=cluster["id"], relationship_type="runs_on")["count"] == 0
    everything = _list(client)["count"]
    assert _list(client, provider=provider["id"])["count"] == everything
    assert _list(client, provider__id=provider["id"])["count"] == everything
    assert _list(client, provider=404404)["count"] == 0
    assert _list(client, target=404404)["count"] == 0
    by_type = _list(client, ordering="relationship_type")["results"]
    assert [e["relationship_type"] for e in by_type] == sorted(
        e["relationship_type"] for e in by_type
    )
    backwards = _list(client, ordering="-relationship_type", page_size=5)["results"]
    assert [e["relationship_type"] for e in backwards] == sorted(
        (e["relationship_type"] for e in by_type), reverse=True
    )[:5]

    for params, named in (
        ({"relationship_type": "owns"}, "relationship_type"),
        ({"source": "x"}, "source"),
        ({"target": 0}, "target"),
        ({"page_size": 0}, "page_size"),
        ({"sauce": 1}, "sauce"),
        ({"ordering": "name"}, "ordering"),
    ):
        response = client.get(f"{API}/resource-relationships/", params=params)
        assert response.status_code == 400, (params, response.text)
        assert named in response.json()["detail"]
    for bad in ("nosuch", "W1s1LCJ4IiwieSJdXQ", "eyJhIjoxfQ"):
        assert client.get(f"{API}/resource-relationships/{bad}/").status_code == 404


def test_only_visible_organizations_edges_are_listed(client: TestClient) -> None:
    _collected(client)  # organization 1's
    other = client.post(f"{API}/organizations/", json={"name": "Other"}).json()["id"]
    user = client.post(f"{API}/users/", json={"username": "stranger", "password": PASSWORD})
    added = client.post(
        f"{API}/organizations/{other}/members/", json={"user": user.json()["id"], "role": "admin"}
    )
    assert added.status_code == 201, added.text
    stranger = ("stranger", PASSWORD)
    edge = _list(client)["results"][0]

    assert _list(client, auth=stranger) == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    assert _list(client, auth=stranger, source=edge["source"])["count"] == 0
    assert _list(client, auth=stranger, target=edge["target"])["count"] == 0
    hidden = client.get(f"{API}/resource-relationships/{edge['id']}/", auth=stranger)
    assert hidden.status_code == 404
