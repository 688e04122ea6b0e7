"""Watchlists: static and dynamic, their resources, their drift, per organization."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from factories import API, all_resources, collect, create_provider, patch_config

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
FIELDS = {
    "id", "name", "description", "watchlist_type", "filter_query", "organization",
    "created_by", "created_at", "updated_at", "resource_count",
}  # fmt: skip
PASSWORD = "watching-password"


def _user(client: TestClient, name: str, **roles: int) -> tuple[str, str]:
    user = client.post(f"{API}/users/", json={"username": name, "password": PASSWORD})
    assert user.status_code == 201, user.text
    for role, organization in roles.items():
        added = client.post(
            f"{API}/organizations/{organization}/members/",
            json={"user": user.json()["id"], "role": role},
        )
        assert added.status_code == 201, added.text
    return (name, PASSWORD)


def _collected(client: TestClient, **overrides: Any) -> tuple[dict[str, Any], list[int]]:
    provider = create_provider(client, connection_config=SMALL, **overrides)
    collect(client, provider["id"])
    vms = all_resources(client, provider=provider["id"], resource_type="virtual_machine")
    return provider, [vm["id"] for vm in vms]


def test_a_static_watchlist_holds_the_resources_added_to_it(client: TestClient) -> None:
    _, vms = _collected(client)
    created = client.post(f"{API}/watchlists/", json={"name": "Mine", "description": "d"})
    assert created.status_code == 201, created.text
    watchlist = created.json()
    url = f"{API}/watchlists/{watchlist['id']}/"

    assert set(watchlist) == FIELDS
    assert watchlist["watchlist_type"] == "static" and watchlist["filter_query"] == {}
    assert watchlist["created_by"] == "admin" and watchlist["resource_count"] == 0
    added = client.post(f"{url}resources/add/", json={"resource_ids": vms[:3]})
    assert added.status_code == 200, added.text
    assert added.json() == {"detail": "Added 3 resource(s).", "changed": 3, "resource_count": 3}
    again = client.post(f"{url}resources/add/", json={"resource_ids": vms[:2]})
    assert again.json()["changed"] == 0
    page = client.get(f"{url}resources/").json()
    assert [r["id"] for r in page["results"]] == vms[:3]
    listed = {r["id"]: r for r in all_resources(client)}
    assert page["results"] == [listed[i] for i in vms[:3]]  # the items of resources/
    assert client.get(f"{url}resources/", params={"page_size": 2}).json()["next"]
    assert client.get(url).json()["resource_count"] == 3
    removed = client.post(f"{url}resources/remove/", json={"resource_ids": [vms[0], 999]})
    assert removed.json()["detail"] == "Removed 1 resource(s)."
    assert client.get(f"{API}/watchlists/").json()["results"][0]["resource_count"] == 2
    replaced = client.put(url, json={"name": "Put", "description": ""})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["description"] == "" and replaced.json()["resource_count"] == 2
    renamed = client.patch(url, json={"name": "Renamed"})
    assert renamed.json()["name"] == "Renamed" and renamed.json()["resource_count"] == 2
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_a_dynamic_watchlist_is_what_its_filters_match_now(client: TestClient) -> None:
    provider, vms = _collected(client)
    client.post(f"{API}/resources/{vms[0]}/tags/add/", json=[{"key": "env", "value": "prod"}])
    body = {
        "name": "Prod VMs",
        "watchlist_type": "dynamic",
        "filter_query": {"resource_type": "virtual_machine", "tag": "env:prod"},
    }
    created = client.post(f"{API}/watchlists/", json=body)
    assert created.status_code == 201, created.text
    url = f"{API}/watchlists/{created.json()['id']}/"

    assert created.json()["resource_count"] == 1
    client.post(f"{API}/resources/{vms[1]}/tags/add/", json=[{"key": "env", "value": "prod"}])
    assert [r["id"] for r in client.get(f"{url}resources/").json()["results"]] == vms[:2]
    refused = client.post(f"{url}resources/add/", json={"resource_ids": [vms[2]]})
    assert refused.status_code == 409
    assert "is dynamic: its filter_query chooses its resources" in refused.json()["detail"]
    assert client.post(f"{url}resources/remove/", json={"resource_ids": vms}).status_code == 409
    widened = client.patch(url, json={"filter_query": {"provider": provider["id"]}})
    assert widened.json()["resource_count"] == 16
    static = client.patch(url, json={"watchlist_type": "static"})
    assert static.json()["filter_query"] == {} and static.json()["resource_count"] == 0
    assert (
        client.get(f"{API}/watchlists/", params={"watchlist_type": "dynamic"}).json()["count"] == 0
    )


def test_a_bad_filter_query_is_a_400_naming_it_and_nothing_is_stored(client: TestClient) -> None:
    cases = [
        ({"sate": "running"}, "filter_query.sate: not a resource filter (filters: provider, "),
        ({"state": "runing"}, "filter_query.state: 'runing' is not one of active, "),
        ({"resource_type": "vm"}, "filter_query.resource_type: 'vm' is not one of "),
        ({"provider": "one"}, "filter_query.provider: "),
        ({"include_deleted": "perhaps"}, "filter_query.include_deleted: "),
        ({"tag": ":x"}, "filter_query.tag: ':x' is not [namespace/]key[:value]"),
        ({"tag": [1]}, "filter_query.tag.0: "),
    ]
    for query, detail in cases:
        body = {"name": "W", "watchlist_type": "dynamic", "filter_query": query}
        response = client.post(f"{API}/watchlists/", json=body)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["detail"].startswith(detail), (query, response.json())
    static = {"name": "W", "filter_query": {"state": "running"}}
    assert client.post(f"{API}/watchlists/", json=static).status_code == 400
    for body, field in [
        ({"name": ""}, "name"),
        ({"name": "W", "watchlist_type": "smart"}, "watchlist_type"),
        ({"name": "W", "colour": "red"}, "colour"),
        ({"name": "W", "organization": 99}, "organization"),
    ]:
        response = client.post(f"{API}/watchlists/", json=body)
        assert response.status_code == 400 and field in response.json()["detail"], body
    assert client.get(f"{API}/watchlists/").json()["count"] == 0
    assert client.get(f"{API}/watchlists/", params={"watchlist_type": "x"}).status_code == 400
    made = client.post(f"{API}/watchlists/", json={"name": "W", "watchlist_type": "dynamic"})
    url = f"{API}/watchlists/{made.json()['id']}/"
    bad = client.patch(url, json={"filter_query": {"state": "x"}})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("filter_query.state")
    assert client.get(url).json()["filter_query"] == {}
    assert client.patch(url, json={"name": None}).status_code == 400
    for ids in ([], ["x"], [0]):
        made_static = client.post(f"{API}/watchlists/", json={"name": "S"}).json()
        answer = client.post(
            f"{API}/watchlists/{made_static['id']}/resources/add/", json={"resource_ids": ids}
        )
        assert answer.status_code == 400 and "resource_ids" in answer.json()["detail"]


def test_the_drift_of_a_watchlist_is_its_resources_history(client: TestClient) -> None:
    provider, vms = _collected(client)
    watched, unwatched = vms[-1], vms[0]
    made = client.post(f"{API}/watchlists/", json={"name": "W"}).json()
    url = f"{API}/watchlists/{made['id']}/"
    client.post(f"{url}resources/add/", json={"resource_ids": [watched, unwatched]})
    assert client.get(f"{url}drift/").json()["count"] == 0
    patch_config(client, provider["id"], **{**SMALL, "vms_per_host": 2})
    run = collect(client, provider["id"])

    drift = client.get(f"{url}drift/").json()
    history = client.get(f"{API}/resources/{watched}/history/").json()["results"]
    deleted = [h for h in history if h["kind"] == "deleted"]

    assert len(deleted) == 1  # the last VM of each host went
    assert [d["id"] for d in drift["results"]] == [deleted[0]["id"]]
    entry = drift["results"][0]
    assert set(entry) == {
        "id", "resource", "resource_name", "resource_type_slug", "provider", "provider_name",
        "collection_run", "drift_type", "detected_at", "changes",
    }  # fmt: skip
    assert entry["resource"] == watched and entry["drift_type"] == "deleted"
    assert entry["collection_run"] == run["id"] and entry["provider_name"] == "Simulated"
    assert entry["resource_type_slug"] == "virtual_machine"
    later = client.get(f"{url}drift/", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later["count"] == 0
    assert client.get(f"{url}drift/", params={"since": "yesterday"}).status_code == 400
    # the deleted VM stays a member, shown deleted
    members = client.get(f"{url}resources/").json()["results"]
    assert {m["id"]: m["is_deleted"] for m in members} == {unwatched: False, watched: True}


def test_watchlists_stay_in_their_organization(client: TestClient) -> None:
    one = client.post(f"{API}/organizations/", json={"name": "One"}).json()["id"]
    two = client.post(f"{API}/organizations/", json={"name": "Two"}).json()["id"]
    provider_one, vms = _collected(client, organization=one)
    _, theirs = _collected(client, name="Two's", organization=two)
    made = client.post(f"{API}/watchlists/", json={"name": "W", "organization": one}).json()
    url = f"{API}/watchlists/{made['id']}/"
    outsider = _user(client, "two-admin", admin=two)
    viewer = _user(client, "one-viewer", viewer=one)
    operator = _user(client, "one-operator", operator=one)

    assert client.get(f"{API}/watchlists/", auth=outsider).json()["count"] == 0
    for path in ("", "resources/", "drift/"):
        assert client.get(url + path, auth=outsider).status_code == 404
    assert client.patch(url, json={"name": "X"}, auth=outsider).status_code == 404
    assert client.delete(url, auth=outsider).status_code == 404
    other_org = client.post(f"{url}resources/add/", json={"resource_ids": [theirs[0]]})
    assert other_org.status_code == 400
    assert other_org.json()["detail"] == (
        f"resource_ids: no resource with id {theirs[0]} in organization {one}"
    )
    assert client.get(f"{url}resources/").json()["count"] == 0
    moved = client.patch(url, json={"organization": two})
    assert moved.status_code == 400 and moved.json()["detail"].startswith("organization: ")

    assert client.get(url, auth=viewer).status_code == 200
    assert client.patch(url, json={"name": "X"}, auth=viewer).status_code == 403
    assert (
        client.post(f"{url}resources/add/", json={"resource_ids": vms}, auth=viewer).status_code
        == 403
    )
    mine = client.post(f"{API}/watchlists/", json={"name": "V", "organization": one}, auth=viewer)
    assert mine.status_code == 403
    by_operator = client.post(
        f"{API}/watchlists/", json={"name": "Op's", "organization": one}, auth=operator
    )
    assert by_operator.status_code == 201 and by_operator.json()["created_by"] == "one-operator"
    assert (
        client.post(f"{url}resources/add/", json={"resource_ids": vms}, auth=operator).status_code
        == 200
    )
    # A dynamic watchlist of organization one never matches organization two's resources.
    dynamic = client.post(
        f"{API}/watchlists/",
        json={"name": "D", "watchlist_type": "dynamic", "organization": one},
    ).json()
    assert dynamic["resource_count"] == 16
    # Resources whose provider moves away leave organization one's watchlists.
    moved_away = client.patch(f"{API}/providers/{provider_one['id']}/", json={"organization": two})
    assert moved_away.status_code == 200, moved_away.text
    assert client.get(url).json()["resource_count"] == 0
    assert client.get(f"{url}resources/", auth=viewer).json()["results"] == []
