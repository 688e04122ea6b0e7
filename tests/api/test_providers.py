"""Providers over the API: the seed's CRUD, validation, collect, test."""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    start_run,
    wait_for_run,
)

JSON = {"content-type": "application/json"}
PUBLIC_FIELDS = {
    "id",
    "plugin_version",
    "resolved_plugin_version",
    "created",
    "modified",
    "credential_ref",
    "resource_count",
    "last_collection_status",
    "name",
    "infrastructure",
    "vendor",
    "provider_type",
    "endpoint",
    "organization",
    "connection_config",
    "enabled",
    "plugin_installed",
    "warnings",
    "created_at",
    "updated_at",
    "last_refresh_at",
    "schedule_count",
}
SEED_BODY = {
    "name": "Production datacenter",
    "infrastructure": "private_cloud",
    "vendor": "simulated",
    "provider_type": "datacenter",
    "endpoint": "vcsa01.lab.local",
    "organization": 1,
    "connection_config": {"username": "administrator@vsphere.local", "clusters": 1},
}


def _count(client):
    return client.get(f"{API}/providers/").json()["count"]


def test_create_answers_201_with_the_seed_fields(client: TestClient) -> None:
    response = client.post(f"{API}/providers/", json=SEED_BODY)

    assert response.status_code == 201, response.text
    provider = response.json()
    assert set(provider) == PUBLIC_FIELDS
    assert isinstance(provider["id"], int)
    for field in ("name", "infrastructure", "vendor", "provider_type", "endpoint"):
        assert provider[field] == SEED_BODY[field]
    assert provider["organization"] == 1
    assert provider["connection_config"] == SEED_BODY["connection_config"]
    assert provider["enabled"] is True
    assert provider["plugin_installed"] is True
    assert provider["warnings"] == []
    assert provider["last_refresh_at"] is None


def test_list_pages_and_filters(client: TestClient) -> None:
    organization = client.post(f"{API}/organizations/", json={"name": "Lab"}).json()
    first = create_provider(client, name="one")
    create_provider(client, name="two", organization=organization["id"])
    create_provider(client, name="three", vendor="nosuch", provider_type="thing", enabled=False)

    page = client.get(f"{API}/providers/", params={"page_size": 2}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 3
    assert [p["name"] for p in page["results"]] == ["one", "two"]
    assert page["previous"] is None
    second = client.get(page["next"]).json()
    assert [p["name"] for p in second["results"]] == ["three"]
    assert second["next"] is None
    assert client.get(second["previous"]).json()["results"] == page["results"]

    def names(**params):
        return [p["name"] for p in client.get(f"{API}/providers/", params=params).json()["results"]]

    assert names(vendor="simulated") == ["one", "two"]
    assert names(vendor="nosuch") == ["three"]
    assert names(provider_type="datacenter") == ["one", "two"]
    assert names(organization=organization["id"]) == ["two"]
    assert names(organization=1) == ["one", "three"]
    assert names(enabled="false") == ["three"]
    assert names(enabled="true", vendor="simulated", organization=1) == ["one"]
    assert client.get(f"{API}/providers/{first['id']}/").json() == first


def test_detail_patch_put_delete(client: TestClient) -> None:
    provider = create_provider(client)
    url = f"{API}/providers/{provider['id']}/"

    assert client.get(url).json() == provider
    assert client.get(f"{API}/providers/9999/").status_code == 404

    patched = client.patch(url, json={"name": "Renamed", "enabled": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["enabled"] is False
    assert patched.json()["endpoint"] == provider["endpoint"]
    assert patched.json()["connection_config"] == provider["connection_config"]
    assert client.get(url).json()["name"] == "Renamed"

    replacement = {**SEED_BODY, "name": "Replaced", "connection_config": {"clusters": 2}}
    put = client.put(url, json=replacement)
    assert put.status_code == 200, put.text
    replaced = put.json()
    assert replaced["name"] == "Replaced"
    assert replaced["endpoint"] == "vcsa01.lab.local"
    assert replaced["connection_config"] == {"clusters": 2}
    assert replaced["enabled"] is True  # PUT replaces every field, defaults included
    assert client.get(url).json() == replaced

    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert client.get(url).json()["last_refresh_at"] is not None
    assert all_resources(client, provider=provider["id"])

    deleted = client.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(url).status_code == 404
    assert all_resources(client, provider=provider["id"], include_deleted="true") == []
    assert client.get(f"{API}/collection-runs/{run['id']}/").status_code == 404
    assert client.delete(url).status_code == 404


def _refused(client, body, *needles):
    before = _count(client)
    response = client.post(f"{API}/providers/", json=body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    for needle in needles:
        assert needle in detail, detail
    assert _count(client) == before
    return detail


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(client: TestClient) -> None:
    _refused(client, {**SEED_BODY, "vendor": "Not A Slug"}, "vendor")
    _refused(client, {k: v for k, v in SEED_BODY.items() if k != "name"}, "name")
    _refused(client, {**SEED_BODY, "colour": "blue"}, "colour")
    _refused(client, {**SEED_BODY, "connection_config": "clusters=2"}, "connection_config")
    _refused(
        client,
        {**SEED_BODY, "connection_config": {"clusters": "many"}},
        "connection_config.clusters",
    )
    _refused(client, {**SEED_BODY, "organization": 999}, "organization", "999")
    _refused(client, {**SEED_BODY, "enabled": "maybe"}, "enabled")

    create_provider(client, **SEED_BODY)
    _refused(client, SEED_BODY, "name", repr(SEED_BODY["name"]))
    organization = client.post(f"{API}/organizations/", json={"name": "Other"}).json()
    create_provider(client, **{**SEED_BODY, "organization": organization["id"]})  # same name


def test_bad_updates_are_refused_and_change_nothing(client: TestClient) -> None:
    provider = create_provider(client, name="kept")
    other = create_provider(client, name="other")
    url = f"{API}/providers/{provider['id']}/"

    for body, needle in [
        (
            {"connection_config": {"hosts_per_cluster": "four"}},
            "connection_config.hosts_per_cluster",
        ),
        ({"name": "other"}, "name"),
        ({"organization": 42}, "organization"),
        ({"name": None}, "name"),
        ({"vendor": "Bad Vendor"}, "vendor"),
        ({"secret_sauce": 1}, "secret_sauce"),
    ]:
        response = client.patch(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert needle in response.json()["detail"], (body, response.json())
    assert client.get(url).json() == provider
    assert client.get(f"{API}/providers/{other['id']}/").json() == other
    put = client.put(url, json={**SEED_BODY, "name": "other"})
    assert put.status_code == 400
    assert client.get(url).json() == provider


TYPO = (
    "connection_config.vms_per_hots: unknown parameter for simulated:datacenter; "
    "did you mean 'vms_per_host'? (known: clusters, hosts_per_cluster, vms_per_host, "
)


def test_an_unknown_connection_parameter_is_refused_with_the_close_match(
    client: TestClient,
) -> None:
    body = {**SEED_BODY, "connection_config": {"clusters": 1, "vms_per_hots": 3}}
    response = client.post(f"{API}/providers/", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(TYPO), response.json()
    assert _count(client) == 0

    provider = create_provider(client)
    url = f"{API}/providers/{provider['id']}/"
    for method, body in [
        ("patch", {"connection_config": {"vms_per_hots": 3}}),
        ("put", {**SEED_BODY, "connection_config": {"vms_per_hots": 3}}),
    ]:
        response = client.request(method, url, json=body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()["detail"].startswith(TYPO), response.json()
    assert client.get(url).json() == provider

    response = client.patch(url, json={"connection_config": {"colour": "blue"}})
    assert response.json()["detail"].startswith(
        "connection_config.colour: unknown parameter for simulated:datacenter (known: "
    )


def test_credential_keys_are_always_accepted_and_unchecked_without_a_plugin(
    client: TestClient,
) -> None:
    credential = {"username": "u", "password": "p", "port": 443, "verify_ssl": False}
    create_provider(client, name="credential", connection_config=credential)

    provider = create_provider(
        client, name="no plugin", vendor="acme", provider_type="cloud", connection_config={"x": 1}
    )
    assert provider["connection_config"] == {"x": 1}
    # Once the key names an installed plugin, its manifest checks the stored keys.
    response = client.patch(
        f"{API}/providers/{provider['id']}/",
        json={"vendor": "simulated", "provider_type": "datacenter"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("connection_config.x: unknown parameter")


NUL = "contains a NUL character (\\u0000), which no text column stores"
SURROGATE = "is not valid Unicode (it holds a lone surrogate)"


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"resources": 10**25}, "connection_config.resources: is out of the 64-bit integer range"),
        (
            {"deep": {"list": [1, -(10**30)]}},
            "connection_config.deep.list[1]: is out of the 64-bit integer range",
        ),
        ({"ratio": float("nan")}, "connection_config.ratio: is nan, which is not a JSON number"),
        ({"ratio": float("inf")}, "connection_config.ratio: is inf, which is not a JSON number"),
        ({"name": "x\ud800"}, f"connection_config.name: {SURROGATE}"),
        ({"name": "x\x00"}, f"connection_config.name: {NUL}"),
        ({"x\udc00": 1}, f"connection_config: key 'x\\udc00' {SURROGATE}"),
        ({"a": {"x\x00": 1}}, f"connection_config.a: key 'x\\x00' {NUL}"),
    ],
)
def test_json_no_database_can_store_is_refused_naming_where(
    client: TestClient, config: dict[str, Any], needle: str
) -> None:
    """Python's parser takes all of these; storing them would fail (a 500) or change them."""
    kept = create_provider(client, name="kept", vendor="nope", provider_type="none")
    before = client.get(f"{API}/providers/").json()

    # Sent as Python's json module writes them (NaN, Infinity, "\\ud800" escapes).
    new = {"name": "new", "vendor": "nope", "provider_type": "none", "connection_config": config}
    created = client.post(f"{API}/providers/", content=json.dumps(new), headers=JSON)
    updated = client.patch(
        f"{API}/providers/{kept['id']}/",
        content=json.dumps({"connection_config": config}),
        headers=JSON,
    )

    for response in (created, updated):
        assert response.status_code == 400, response.text
        assert response.json()["detail"] == needle
    assert client.get(f"{API}/providers/").json() == before


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("providers/", {"name": "a\x00b", "vendor": "x", "provider_type": "y"}, f"name: {NUL}"),
        (
            "providers/",
            {"name": "a", "vendor": "x", "provider_type": "y", "x\ud800": 1},
            f"key 'x\\ud800' {SURROGATE}",
        ),
        ("organizations/", {"name": "a\x00b"}, f"name: {NUL}"),
        ("organizations/", {"name": "o", "description": "\udfff"}, f"description: {SURROGATE}"),
        ("tokens/", {"name": "a\x00b"}, f"name: {NUL}"),
        ("users/", {"username": "u1", "password": "secret\x00secret"}, f"password: {NUL}"),
    ],
)
def test_every_body_refuses_what_no_database_can_store(
    client: TestClient, path: str, body: dict[str, Any], needle: str
) -> None:
    before = {
        p: client.get(f"{API}/{p}").json()
        for p in ("providers/", "organizations/", "users/", "tokens/")
    }

    response = client.post(f"{API}/{path}", content=json.dumps(body), headers=JSON)

    assert response.status_code == 400, response.text
    assert response.json()["detail"] == needle
    assert "secret" not in response.text  # the value itself is never echoed
    assert {p: client.get(f"{API}/{p}").json() for p in before} == before


@pytest.mark.parametrize(
    "url",
    [
        "resources/?region=%00",
        "resources/?search=a%00",
        "resources/?resource_type=%00",
        "providers/?name=%00",
        "provider-plugins/a%00b/",
        "resource-types/a%00b/",
        "events/?plugin=%00",
    ],
)
def test_a_nul_in_a_parameter_is_a_400_naming_it(client: TestClient, url: str) -> None:
    response = client.get(f"{API}/{url}")

    assert response.status_code == 400, response.text
    assert response.json()["detail"].endswith(NUL)
    assert "parameter" in response.json()["detail"]


def test_a_provider_without_its_plugin_is_kept_and_its_run_names_the_key(
    client: TestClient,
) -> None:
    provider = create_provider(client, vendor="acme", provider_type="cloud")
    assert provider["plugin_installed"] is False
    warning = "no plugin is installed for 'acme:cloud'; upload one before collecting"
    assert provider["warnings"] == [warning]
    assert client.get(f"{API}/providers/{provider['id']}/").json()["warnings"] == [warning]
    listed = client.get(f"{API}/providers/").json()["results"]
    assert [p["warnings"] for p in listed] == [[warning]]
    patched = client.patch(f"{API}/providers/{provider['id']}/", json={"name": "renamed"})
    assert patched.json()["warnings"] == [warning]
    assert provider["connection_config"] == {}

    run = collect(client, provider["id"])

    assert run["status"] == "failed", run
    assert "'acme:cloud'" in run["error_message"]
    assert run["resources_found"] == 0
    assert run["plugin_version"] is None
    tested = client.post(f"{API}/providers/{provider['id']}/test/").json()
    assert tested["ok"] is False
    assert "'acme:cloud'" in tested["message"]


def test_collect_answers_202_and_409_when_disabled(client: TestClient) -> None:
    provider = create_provider(client, enabled=False)
    url = f"{API}/providers/{provider['id']}/collect/"

    refused = client.post(url)
    assert refused.status_code == 409
    assert "disabled" in refused.json()["detail"]
    assert (
        client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()["count"]
        == 0
    )

    client.patch(f"{API}/providers/{provider['id']}/", json={"enabled": True})
    accepted = client.post(url)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] in ("pending", "running")
    assert accepted.json()["provider"] == provider["id"]
    assert wait_for_run(client, accepted.json()["id"])["status"] == "completed"
    assert client.get(f"{API}/collection-runs/404404/").status_code == 404
    assert client.post(f"{API}/providers/404404/collect/").status_code == 404


def test_collect_while_a_run_is_active_answers_409_naming_it(client: TestClient) -> None:
    provider = create_provider(client, connection_config={"resources": 1_000_000})
    run = start_run(client, provider["id"])

    again = client.post(f"{API}/providers/{provider['id']}/collect/")
    deleting = client.delete(f"{API}/providers/{provider['id']}/")

    assert again.status_code == 409, again.text
    assert f"collection run {run['id']}" in again.json()["detail"]
    assert deleting.status_code == 409
    assert f"collection run {run['id']}" in deleting.json()["detail"]
    assert client.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code == 200
    assert wait_for_run(client, run["id"])["status"] == "canceled"
    runs = client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()
    assert runs["count"] == 1


def test_concurrent_collect_requests_start_one_run(client: TestClient) -> None:
    provider = create_provider(client, connection_config={"resources": 1_000_000})
    url = f"{API}/providers/{provider['id']}/collect/"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.post(url), range(8)))

    assert sorted(a.status_code for a in answers) == [202] + [409] * 7
    [run] = [a.json() for a in answers if a.status_code == 202]
    runs = client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()
    assert [r["id"] for r in runs["results"]] == [run["id"]]
    client.post(f"{API}/collection-runs/{run['id']}/cancel/")
    assert wait_for_run(client, run["id"])["status"] == "canceled"


def test_test_endpoint_runs_the_plugin_validate(client: TestClient) -> None:
    good = create_provider(client, name="good", connection_config={"password": "simulated"})
    bad = create_provider(client, name="bad", connection_config={"clusters": 0})

    answer = client.post(f"{API}/providers/{good['id']}/test/")
    refused = client.post(f"{API}/providers/{bad['id']}/test/").json()

    assert answer.status_code == 200, answer.text
    assert answer.json()["provider"] == good["id"]
    assert answer.json()["name"] == "good"
    assert answer.json()["ok"] is True, answer.json()
    assert refused["ok"] is False
    assert "clusters" in refused["message"]
    assert client.post(f"{API}/providers/404404/test/").status_code == 404


def test_deleting_a_provider_deletes_its_resources_and_their_history(client: TestClient) -> None:
    provider = create_provider(client)
    collect(client, provider["id"])
    [resource, *_] = all_resources(client, provider=provider["id"])
    document = client.get("/openapi.json").json()
    operation = document["paths"][f"{API}/providers/{{provider_id}}/"]["delete"]
    assert "its resources with all their history" in operation["description"]

    assert client.delete(f"{API}/providers/{provider['id']}/").status_code == 204

    assert client.get(f"{API}/resources/", params={"provider": provider["id"]}).json()["count"] == 0
    assert client.get(f"{API}/resources/{resource['id']}/history/").status_code == 404
    runs = client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()
    assert runs["count"] == 0
