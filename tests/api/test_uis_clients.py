"""The UIS's clients against Estate: its API root, page numbers, filters and field names.

Real app on both databases; the names asserted are the UIS's serializers' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.api.answers import ESTIMATED_HEADER
from estate.api.app import API_PREFIX, create_app
from estate.config import Settings
from estate.inventory.queries import FEW
from factories import (
    API,
    Sent,
    all_resources,
    collect,
    create_provider,
    fixture_plugin,
    request_statements,
    start_run,
    tarball,
    upload,
    wait_for_run,
    wait_for_status,
)

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
SMALL_TOTAL = 16  # 1 cluster, 2 hosts, 4 datastores, 3 networks, 6 VMs
BIG = {"resources": 1_000_000}  # runs for many seconds: long enough to be caught running


def _collected(client: TestClient, name: str = "dc") -> dict[str, Any]:
    provider = create_provider(client, name=name, connection_config=SMALL)
    assert collect(client, provider["id"])["status"] == "completed"
    return provider


def test_the_api_root_names_every_collection_with_its_url(
    client: TestClient, anonymous: TestClient
) -> None:
    root = client.get(f"{API}/")

    assert root.status_code == 200, root.text
    body = root.json()
    for name in ("providers", "collection-runs", "resources", "resource-types", "provider-plugins"):
        assert body.get(name) == f"http://testserver{API}/{name}/", body
    assert "ping" not in body
    for url in body.values():
        assert client.get(url).status_code == 200, url
    assert anonymous.get(f"{API}/").status_code == 401


def _identity(item: dict[str, Any]) -> Any:
    for name in ("id", "key", "slug", "slot", "user"):
        if name in item:
            return item[name]
    raise AssertionError(f"no identity in {sorted(item)}")


def _walk(client: TestClient, url: str, params: dict[str, Any]) -> list[Any]:
    """Every item of a list, page after page by its ``next`` links. Every page tells
    the same count, and it is the list's length, but for an estimated count (a broad
    search's, ``X-Count-Estimated``): the same on every page but a last one that says
    the length."""
    page = client.get(url, params=params)
    assert page.status_code == 200, page.text
    body = page.json()
    assert set(body) == {"count", "next", "previous", "results"}
    total, items = body["count"], list(body["results"])
    while body["next"]:
        page = client.get(body["next"])
        body = page.json()
        assert body["previous"] is not None
        items.extend(body["results"])
        assert body["count"] == total or not (body["next"] or page.headers.get(ESTIMATED_HEADER))
    assert page.headers.get(ESTIMATED_HEADER) or body["count"] == len(items)
    return [_identity(i) for i in items]


def _lists(client: TestClient, ids: dict[str, int]) -> list[str]:
    """The path of every list of the OpenAPI document (those taking page_size)."""
    document = client.get("/openapi.json").json()
    paths = []
    for path, operations in document["paths"].items():
        names = {p["name"] for p in operations.get("get", {}).get("parameters", [])}
        if "page_size" in names:
            paths.append(path.format(**ids))
    return paths


def test_every_list_pages_by_number_and_by_cursor_to_the_same_items(client: TestClient) -> None:
    provider = _collected(client)
    _collected(client, "dc-2")
    client.post(f"{API}/tokens/", json={"name": "a"})
    client.post(f"{API}/tokens/", json={"name": "b"})
    resource = client.get(f"{API}/resources/").json()["results"][0]
    for name in ("nightly", "hourly"):
        schedule = {"name": name, "cron_expression": "0 3 * * *"}
        client.post(f"{API}/providers/{provider['id']}/schedules/", json=schedule)
    watchlist = client.post(
        f"{API}/watchlists/",
        json={"name": "dynamic", "watchlist_type": "dynamic", "filter_query": {}},
    ).json()
    repository = client.post(
        f"{API}/repositories/", json={"name": "r", "kind": "static", "url": "http://127.0.0.1:9/"}
    ).json()
    ids = {
        "repository_id": repository["id"],
        "watchlist_id": watchlist["id"],
        "organization_id": 1,
        "resource_id": resource["id"],
        "user_id": 1,
        "provider_id": provider["id"],
        "key": "simulated:datacenter",
    }
    lists = _lists(client, ids)
    assert len(lists) >= 12, lists

    for path in lists:
        whole = _walk(client, path, {"page": 1, "page_size": 1000})
        assert _walk(client, path, {"page": 1, "page_size": 2}) == whole, path
        assert _walk(client, path, {"page_size": 3}) == whole, path
    resources = f"{API_PREFIX}/resources/"
    by_cursor = _walk(client, resources, {"page_size": 5})  # no page: the cursor
    assert client.get(resources, params={"page_size": 5}).json()["next"].find("cursor=") > 0
    assert by_cursor == _walk(client, resources, {"page": 1, "page_size": 5})
    assert len(by_cursor) == 2 * SMALL_TOTAL
    filtered = {"provider": provider["id"], "resource_type": "virtual_machine"}
    assert _walk(client, resources, {**filtered, "page_size": 4}) == _walk(
        client, resources, {**filtered, "page": 1, "page_size": 4}
    )


def _walk_back(client: TestClient, url: str, params: dict[str, Any]) -> list[Any]:
    """Every item of a cursor list, from its last page back by its ``previous`` links."""
    body = client.get(url, params=params).json()
    while body["next"]:
        body = client.get(body["next"]).json()
    items = list(body["results"])
    while body["previous"]:
        body = client.get(body["previous"]).json()
        items[:0] = body["results"]
    return [_identity(i) for i in items]


def test_search_and_tag_lists_page_alike_with_few_matches_and_with_many(
    client: TestClient,
) -> None:
    """Up to FEW matches a search or tag list reads all its ids at once and pages them
    in memory; beyond, it counts and pages in the database: the same items either way,
    by page number, by cursor forward and back."""
    provider = create_provider(client, connection_config={"resources": FEW + 400})
    assert collect(client, provider["id"])["status"] == "completed"
    resources = f"{API_PREFIX}/resources/"
    every = _walk(client, resources, {"page": 1, "page_size": 1000, "ordering": "id"})
    tagged = every[7::501]
    for resource_id in tagged:
        answer = client.post(
            f"{API}/resources/{resource_id}/tags/add/", json=[{"key": "env", "value": "prod"}]
        )
        assert answer.status_code == 200, answer.text
    vms = client.get(resources, params={"search": "VirtualMachine", "page_size": 1}).json()

    assert vms["count"] > FEW  # many
    for filters, size, expected in (
        ({"search": "esxi-000"}, 3, None),  # few
        ({"tag": "env:prod"}, 4, tagged),  # few
        ({"search": "VirtualMachine"}, 1000, None),  # many
    ):
        by_number = _walk(client, resources, {**filters, "page": 1, "page_size": size})
        assert by_number == sorted(by_number)
        assert expected is None or by_number == expected
        assert len(by_number) > 2 * size, filters  # three pages or more
        assert _walk(client, resources, {**filters, "page_size": size}) == by_number, filters
        assert _walk_back(client, resources, {**filters, "page_size": size}) == by_number
        ordered = _walk(
            client, resources, {**filters, "page": 1, "page_size": size, "ordering": "-id"}
        )
        assert ordered == by_number[::-1], filters


def test_a_page_and_a_cursor_together_are_refused(client: TestClient) -> None:
    _collected(client)
    cursor = client.get(f"{API}/resources/", params={"page_size": 2}).json()["next"]
    token = cursor.split("cursor=")[1].split("&")[0]

    both = client.get(f"{API}/resources/", params={"page": 2, "cursor": token})
    ordered = client.get(f"{API}/resources/", params={"ordering": "name", "cursor": token})

    assert both.status_code == 400
    assert both.json()["detail"] == "page: give either page or cursor, not both"
    assert ordered.status_code == 400
    assert ordered.json()["detail"].startswith("ordering:")
    assert client.get(f"{API}/resources/", params={"page": 0}).status_code == 400


RESOURCE_FIELDS = {
    "resource_type_slug",
    "resource_type_name",
    "provider_name",
    "first_discovered_at",
    "organization",
}


def test_resources_carry_the_uis_fields(client: TestClient) -> None:
    provider = _collected(client)

    items = all_resources(client)
    detail = client.get(f"{API}/resources/{items[0]['id']}/").json()

    for item in (*items, detail):
        assert set(item) >= RESOURCE_FIELDS
        assert item["resource_type_slug"] == item["resource_type"]
        assert item["provider_name"] == "dc"
        assert item["organization"] == 1
        assert item["first_discovered_at"] == item["first_seen_at"]
        assert item["provider"] == provider["id"]
    names = {i["resource_type"]: i["resource_type_name"] for i in items}
    assert names["virtual_machine"] == "Virtual Machine"
    assert names["hypervisor_host"] == "Hypervisor Host"


def _names(client: TestClient, **params: Any) -> list[str]:
    page = client.get(f"{API}/resources/", params={"page": 1, "page_size": 1000, **params})
    assert page.status_code == 200, page.text
    return [r["name"] for r in page.json()["results"]]


def test_the_uis_filters_of_resources(client: TestClient, tmp_path: Path) -> None:
    provider = _collected(client)
    assert upload(client, tarball(fixture_plugin("seed", tmp_path / "seed"))).status_code == 201
    seed = create_provider(client, name="seed", vendor="myvendor", provider_type="myplatform")
    assert collect(client, seed["id"])["status"] == "completed"
    hosts = sorted(_names(client, resource_type="hypervisor_host"))

    assert len(_names(client, provider__id=provider["id"])) == SMALL_TOTAL
    assert sorted(_names(client, resource_type__slug="hypervisor_host")) == hosts
    assert _names(client, vendor="myvendor") == _names(client, provider=seed["id"])
    assert sorted(_names(client, search="esxi")) == hosts  # name, fqdn and os_name
    assert sorted(_names(client, search="VMware ESXi 8")) == hosts  # os_name only
    assert _names(client, search="HostSystem") == _names(client, search="esxi")  # vendor_type
    assert _names(client, search="172.16.0.1") == [hosts[0]]  # an IP address
    assert _names(client, search="00:25:b5:00:00:01") == [hosts[1]]  # a MAC address
    os_types = {r["os_type"] for r in all_resources(client) if r["os_type"]}
    for os_type in os_types:
        found = all_resources(client, os_type=os_type)
        assert found and {r["os_type"] for r in found} == {os_type}
    assert _names(client, os_type="no-such-os") == []
    active = all_resources(client, state="active")
    assert active and {r["state"] for r in active} == {"active"}


def test_ordering_sorts_resources_and_names_a_bad_field(client: TestClient) -> None:
    _collected(client)

    ascending = _names(client, ordering="name")
    descending = _names(client, ordering="-name")
    by_type = client.get(
        f"{API}/resources/", params={"ordering": "resource_type,-name", "page_size": 1000}
    ).json()["results"]
    bad = client.get(f"{API}/resources/", params={"ordering": "secret"})
    unknown = client.get(f"{API}/resources/", params={"provider_name": "dc"})

    assert ascending == sorted(ascending) and descending == ascending[::-1]
    pairs = [(r["resource_type"], r["name"]) for r in by_type]
    assert pairs == sorted(pairs, key=lambda p: (p[0], [-ord(c) for c in p[1]]))
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("ordering: 'secret' is not a sortable field")
    assert "first_discovered_at" in bad.json()["detail"]
    assert unknown.status_code == 400
    assert "query parameter 'provider_name': unknown" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"resource_type__slug": "vm"}, "resource_type: 'vm' is not one of "),
        ({"provider__id": "one"}, "provider__id"),
        ({"provider__id": "1", "provider": "2"}, "provider__id: 1 contradicts provider=2"),
        ({"state": "runing"}, "state: 'runing' is not one of "),
    ],
)
def test_a_bad_uis_filter_value_is_named(
    client: TestClient, params: dict[str, str], detail: str
) -> None:
    response = client.get(f"{API}/resources/", params=params)

    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]


PROVIDER_FIELDS = {
    "last_collection_status",
    "last_refresh_at",
    "resource_count",
    "created",
    "modified",
    "credential_ref",
}


def test_providers_carry_their_count_and_last_status(client: TestClient) -> None:
    idle = create_provider(client, name="idle", infrastructure="public_cloud")
    collected = _collected(client)

    listed = {p["name"]: p for p in client.get(f"{API}/providers/").json()["results"]}
    detail = client.get(f"{API}/providers/{collected['id']}/").json()

    for item in (*listed.values(), detail, idle):
        assert set(item) >= PROVIDER_FIELDS
        assert item["credential_ref"] is None
        assert item["created"] == item["created_at"]
        assert item["modified"] == item["updated_at"]
    assert (listed["dc"]["resource_count"], listed["dc"]["last_collection_status"]) == (
        SMALL_TOTAL,
        "completed",
    )
    assert (listed["idle"]["resource_count"], listed["idle"]["last_collection_status"]) == (0, None)
    assert detail["resource_count"] == SMALL_TOTAL
    assert listed["dc"]["last_refresh_at"] is not None


def test_the_uis_filters_of_providers(client: TestClient) -> None:
    create_provider(client, name="alpha", infrastructure="public_cloud")
    create_provider(client, name="beta")

    def names(**params: Any) -> list[str]:
        page = client.get(f"{API}/providers/", params=params)
        assert page.status_code == 200, page.text
        return [p["name"] for p in page.json()["results"]]

    assert names(infrastructure="public_cloud") == ["alpha"]
    assert names(search="BET") == ["beta"]
    assert names(search="datacenter") == ["alpha", "beta"]  # provider_type
    assert names(ordering="-name") == ["beta", "alpha"]
    assert names(ordering="-created") == ["beta", "alpha"]
    bad = client.get(f"{API}/providers/", params={"ordering": "secrets"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("ordering: 'secrets'")


def test_a_provider_page_costs_the_same_queries_for_one_or_many(client: TestClient) -> None:
    _collected(client, "first")
    with request_statements(client) as one:
        assert client.get(f"{API}/providers/").status_code == 200
    for n in range(4):
        _collected(client, f"more-{n}")
    with request_statements(client) as five:
        assert client.get(f"{API}/providers/").json()["count"] == 5

    assert len(_of_the_page(five)) == len(_of_the_page(one))


def _of_the_page(sent: list[Sent]) -> list[Sent]:
    """The statements a request sent but the login throttle's: its copy of the
    throttles is read again by whichever request finds it over a second old
    (``auth/throttle.py``), three statements whatever the page."""
    return [
        s for s in sent if "login_blocks" not in s.statement and "login_failures" not in s.statement
    ]


RUN_FIELDS = {
    "collection_type",
    "resources_found",
    "resources_created",
    "resources_updated",
    "resources_removed",
    "resources_unchanged",
    "duration_seconds",
    "collector_version",
    "task_uuid",
    "canceled_at",
    "error_message",
    "result_traceback",
    "started_at",
    "completed_at",
}


def test_runs_carry_the_uis_fields_and_filters(client: TestClient) -> None:
    provider = _collected(client)
    other = _collected(client, "other")

    page = client.get(f"{API}/collection-runs/").json()
    run = client.get(f"{API}/collection-runs/", params={"provider": provider["id"]}).json()

    for item in page["results"]:
        assert set(item) >= RUN_FIELDS
        assert item["collection_type"] == "full"
        assert item["resources_removed"] == item["resources_deleted"]
        assert item["collector_version"] == item["plugin_version"] != ""
        assert item["completed_at"] == item["finished_at"]
        assert (item["canceled_at"], item["result_traceback"], item["task_uuid"]) == (None, "", "")
        assert item["duration_seconds"] >= 0
    assert run["results"][0]["resources_created"] == SMALL_TOTAL

    def ids(**params: Any) -> list[int]:
        answer = client.get(f"{API}/collection-runs/", params=params)
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()["results"]]

    assert ids(search="oth") == ids(provider=other["id"])
    assert ids(collection_type="full") == ids()
    assert ids(collection_type="targeted") == []
    assert ids(ordering="started_at") == ids()[::-1]
    assert ids(ordering="-completed_at") == ids()
    bad_type = client.get(f"{API}/collection-runs/", params={"collection_type": "partial"})
    assert bad_type.status_code == 400
    assert bad_type.json()["detail"].startswith("collection_type: 'partial' is not one of")
    bad = client.get(f"{API}/collection-runs/", params={"ordering": "log"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("ordering: 'log'")


@pytest.fixture
def one_worker(settings: Settings) -> Iterator[TestClient]:
    """The service with a single job worker, so a second run waits, pending."""
    with TestClient(create_app(settings.model_copy(update={"workers": 1}))) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())
        yield client


def test_cancel_answers_200_with_the_run_and_409_once_ended(one_worker: TestClient) -> None:
    client = one_worker
    big = create_provider(client, name="big", connection_config=BIG)
    small = create_provider(client, name="small", connection_config=SMALL)
    running = start_run(client, big["id"])
    wait_for_status(client, running["id"], "running")
    pending = start_run(client, small["id"])

    canceled = client.post(f"{API}/collection-runs/{pending['id']}/cancel/")
    asked = client.post(f"{API}/collection-runs/{running['id']}/cancel/")

    assert canceled.status_code == 200, canceled.text
    assert set(canceled.json()) >= RUN_FIELDS
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["canceled_at"] == canceled.json()["completed_at"] is not None
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "running"
    stopped = wait_for_run(client, running["id"])
    assert stopped["status"] == "canceled" and stopped["canceled_at"] is not None
    again = client.post(f"{API}/collection-runs/{pending['id']}/cancel/")
    assert again.status_code == 409
    assert "only pending or running runs can be canceled" in again.json()["detail"]


def test_a_failed_run_shows_the_plugins_traceback(client: TestClient, tmp_path: Path) -> None:
    folder = fixture_plugin("fragile", tmp_path / "fragile")
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client,
        vendor="fragile",
        provider_type="plugin",
        connection_config={"api_token": "tok-123456789", "site": "dc-1"},
    )

    run = collect(client, provider["id"])
    listed = client.get(f"{API}/collection-runs/").json()["results"][0]

    assert run["status"] == "failed"
    for item in (run, listed):
        trace = item["result_traceback"]
        assert trace.startswith("Traceback (most recent call last):\n")
        assert trace.endswith("RuntimeError: no session for *** at dc-1")
        assert "tok-123456789" not in trace
        assert item["error_message"] == "RuntimeError: no session for *** at dc-1"


PLUGIN_FIELDS = {
    "key",
    "vendor",
    "provider_type",
    "name",
    "version",
    "description",
    "configured_instances",
}


def test_provider_plugins_is_the_uis_array_or_a_page_when_asked(client: TestClient) -> None:
    create_provider(client, name="one")
    create_provider(client, name="two")

    plain = client.get(f"{API}/provider-plugins/")
    page = client.get(f"{API}/provider-plugins/", params={"page_size": 100})

    assert plain.status_code == 200 and isinstance(plain.json(), list)
    assert page.json()["results"] == plain.json()
    assert page.json()["count"] == len(plain.json())
    simulated = next(p for p in plain.json() if p["key"] == "simulated:datacenter")
    assert set(simulated) >= PLUGIN_FIELDS
    assert simulated["configured_instances"] == simulated["provider_count"] == 2
    assert simulated["name"] == simulated["display_name"]
