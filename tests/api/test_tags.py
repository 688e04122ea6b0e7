"""User tags: definitions per organization, a resource's tags, ``?tag=`` on resources/."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from estate.db.models import ResourceTag
from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    patch_config,
    request_statements,
)

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
TAG_FIELDS = {"id", "namespace", "key", "value", "organization"}
PASSWORD = "tagging-password"


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


def _vms(client: TestClient, provider_id: int) -> list[dict[str, Any]]:
    return all_resources(client, provider=provider_id, resource_type="virtual_machine")


def test_tags_are_defined_listed_and_deleted_with_the_uis_fields(client: TestClient) -> None:
    created = client.post(
        f"{API}/tags/", json={"namespace": "environment", "key": "env", "value": "prod"}
    )
    other = client.post(f"{API}/tags/", json={"namespace": "team", "key": "owner"})

    assert created.status_code == 201, created.text
    tag = created.json()
    assert set(tag) == TAG_FIELDS
    assert tag["organization"] == 1 and tag["value"] == "prod"
    assert other.json()["value"] == ""
    again = client.post(
        f"{API}/tags/", json={"namespace": "environment", "key": "env", "value": "prod"}
    )
    assert again.status_code == 400
    assert again.json()["detail"].startswith("namespace, key, value: organization 1 has")
    page = client.get(f"{API}/tags/").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert [t["key"] for t in page["results"]] == ["env", "owner"]
    assert client.get(f"{API}/tags/", params={"namespace": "ENVIRONMENT"}).json()["count"] == 1
    assert client.get(f"{API}/tags/", params={"key": "WN"}).json()["results"][0]["key"] == "owner"
    assert client.get(f"{API}/tags/", params={"value": "ro"}).json()["count"] == 1
    assert client.get(f"{API}/tags/{tag['id']}/").json() == tag
    assert client.delete(f"{API}/tags/{tag['id']}/").status_code == 204
    assert client.get(f"{API}/tags/{tag['id']}/").status_code == 404


def test_a_bad_tag_definition_is_a_400_naming_the_field(client: TestClient) -> None:
    cases = [
        ({"namespace": "n"}, "key"),
        ({"namespace": "", "key": "k"}, "namespace"),
        ({"namespace": "n", "key": "k", "colour": "red"}, "colour"),
        ({"namespace": "n", "key": "k", "value": "v" * 1025}, "value"),
        ({"namespace": "n", "key": "k", "organization": 99}, "organization"),
        ({"namespace": "n", "key": "k", "value": "é" * 1000}, "2002 bytes together in UTF-8"),
    ]
    for body, field in cases:
        response = client.post(f"{API}/tags/", json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["detail"], (body, response.json())
    assert client.get(f"{API}/tags/").json()["count"] == 0
    assert client.get(f"{API}/tags/", params={"resource": "x"}).status_code == 400


def test_resource_tags_are_added_set_removed_and_shown_on_every_item(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    vm, other = _vms(client, provider["id"])[:2]
    tags_url = f"{API}/resources/{vm['id']}/tags/"

    added = client.post(
        f"{tags_url}add/",
        json=[{"namespace": "ops", "key": "env", "value": "prod"}, {"key": "pet"}],
    )

    assert added.status_code == 200, added.text
    assert [(t["namespace"], t["key"], t["value"]) for t in added.json()] == [
        ("ops", "env", "prod"),
        ("user", "pet", ""),
    ]
    assert all(set(t) == TAG_FIELDS for t in added.json())
    assert client.get(tags_url).json() == added.json()
    assert client.get(f"{API}/resources/{vm['id']}/").json()["tags"] == added.json()
    items = {r["id"]: r for r in all_resources(client)}
    assert items[vm["id"]]["tags"] == added.json()
    assert items[other["id"]]["tags"] == []
    # add keeps what is there; the same tag twice is one
    twice = client.post(
        f"{tags_url}add/", json=[{"namespace": "ops", "key": "env", "value": "prod"}]
    )
    assert twice.json() == added.json()
    assert client.get(f"{API}/tags/").json()["count"] == 2  # defined once, in the org

    replaced = client.post(f"{tags_url}set/", json=[{"namespace": "ops", "key": "tier"}])
    assert [t["key"] for t in replaced.json()] == ["tier"]
    tier = replaced.json()[0]["id"]
    client.post(f"{tags_url}add/", json=[{"key": "pet"}])
    by_id = client.post(f"{tags_url}remove/", json=[tier])
    assert [t["key"] for t in by_id.json()] == ["pet"]
    by_ref = client.post(f"{tags_url}remove/", json=[{"key": "pet"}, 999])
    assert by_ref.json() == []
    assert client.post(f"{tags_url}set/", json=[]).json() == []


def test_bad_tag_assignments_are_400s_and_store_nothing(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    vm = _vms(client, provider["id"])[0]
    url = f"{API}/resources/{vm['id']}/tags/"

    for suffix, body, where in [
        ("add/", [{"namespace": "n"}], "key"),
        ("add/", [{"key": "k", "colour": "red"}], "colour"),
        ("add/", {"key": "k"}, "list"),
        ("set/", [{"key": ""}], "key"),
        ("remove/", ["nine"], "0"),
        ("add/", [{"key": "k"}] * 201, "200"),
    ]:
        response = client.post(url + suffix, json=body)
        assert response.status_code == 400, (suffix, body, response.text)
        assert where in response.json()["detail"], (suffix, body, response.json())
    assert client.get(url).json() == []
    assert client.get(f"{API}/tags/").json()["count"] == 0
    assert client.post(f"{API}/resources/99999/tags/add/", json=[{"key": "k"}]).status_code == 404


def test_the_tag_filter_matches_every_term_it_is_given(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    a, b, c = _vms(client, provider["id"])[:3]
    prod = {"namespace": "ops", "key": "env", "value": "prod"}
    client.post(f"{API}/resources/{a['id']}/tags/add/", json=[prod, {"key": "web"}])
    client.post(f"{API}/resources/{b['id']}/tags/add/", json=[prod])
    client.post(f"{API}/resources/{c['id']}/tags/add/", json=[{"key": "env", "value": "dev"}])

    def ids(*tags: str) -> list[int]:
        return [r["id"] for r in all_resources(client, tag=list(tags))]

    assert ids("env:prod") == [a["id"], b["id"]]
    assert ids("env=prod") == [a["id"], b["id"]]  # the UIS's way of writing a tag
    assert ids("ops/env:prod") == [a["id"], b["id"]]
    assert ids("user/env:prod") == []
    assert ids("user/env:dev") == [c["id"]]
    assert ids("env") == [a["id"], b["id"], c["id"]]
    assert ids("env:prod", "web") == [a["id"]]  # repeated: every one
    assert ids("env:prod", "env:dev") == []
    for bad, problem in [("", "empty"), (":prod", "the key is empty"), ("/env", "namespace")]:
        response = client.get(f"{API}/resources/", params={"tag": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["detail"].startswith("tag: "), response.json()
        assert problem in response.json()["detail"]


def test_a_page_of_resources_reads_its_tags_in_one_query(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    for vm in _vms(client, provider["id"]):
        client.post(
            f"{API}/resources/{vm['id']}/tags/add/", json=[{"key": "k", "value": vm["ems_ref"]}]
        )
    with request_statements(client) as sent:
        page = client.get(f"{API}/resources/", params={"page_size": 50}).json()

    assert len(page["results"]) == 16
    assert sum(1 for r in page["results"] if r["tags"]) == 6
    assert len([s for s in sent if "resource_tags" in s.statement]) == 1


def test_tags_survive_a_new_collection_and_leave_with_their_resource(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    vm = _vms(client, provider["id"])[0]
    client.post(f"{API}/resources/{vm['id']}/tags/add/", json=[{"key": "keep"}])
    patch_config(client, provider["id"], **{**SMALL, "vms_per_host": 2})

    assert collect(client, provider["id"])["status"] == "completed"
    assert collect(client, provider["id"])["status"] == "completed"

    assert [t["key"] for t in client.get(f"{API}/resources/{vm['id']}/tags/").json()] == ["keep"]
    assert client.delete(f"{API}/providers/{provider['id']}/").status_code == 204
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(ResourceTag)) == 0
    assert client.get(f"{API}/tags/").json()["count"] == 1  # the definition stays


def test_organizations_keep_their_tags_to_themselves(client: TestClient) -> None:
    one = client.post(f"{API}/organizations/", json={"name": "One"}).json()["id"]
    two = client.post(f"{API}/organizations/", json={"name": "Two"}).json()["id"]
    provider = create_provider(client, connection_config=SMALL, organization=one)
    collect(client, provider["id"])
    vm = _vms(client, provider["id"])[0]
    tag = client.post(f"{API}/tags/", json={"namespace": "n", "key": "k", "organization": one})
    tag_id = tag.json()["id"]
    outsider = _user(client, "two-viewer", viewer=two)
    viewer = _user(client, "one-viewer", viewer=one)
    operator = _user(client, "one-operator", operator=one)
    tags_url = f"{API}/resources/{vm['id']}/tags/"

    assert client.get(f"{API}/tags/", auth=outsider).json()["count"] == 0
    assert client.get(f"{API}/tags/{tag_id}/", auth=outsider).status_code == 404
    assert client.get(tags_url, auth=outsider).status_code == 404
    assert client.post(f"{tags_url}add/", json=[{"key": "k"}], auth=outsider).status_code == 404
    assert client.delete(f"{API}/tags/{tag_id}/", auth=outsider).status_code == 404
    refused = client.post(
        f"{API}/tags/", json={"namespace": "n", "key": "x", "organization": one}, auth=outsider
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"organization: no organization with id {one}"

    assert client.get(f"{API}/tags/", auth=viewer).json()["count"] == 1
    assert client.get(tags_url, auth=viewer).json() == []
    assert client.post(f"{tags_url}add/", json=[{"key": "k"}], auth=viewer).status_code == 403
    assert client.post(f"{tags_url}add/", json=[{"key": "k"}], auth=operator).status_code == 200
    made = client.post(
        f"{API}/tags/", json={"namespace": "n", "key": "x", "organization": one}, auth=operator
    )
    assert made.status_code == 403
    assert made.json()["detail"] == f"this needs the admin role in organization {one}"
    assert client.delete(f"{API}/tags/{tag_id}/", auth=operator).status_code == 403
