"""The inventory: filters, cursor pages, relationships, history."""

import base64
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from estate.config import Settings
from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    fixture_plugin,
    patch_config,
    tarball,
    upload,
)

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
SMALL_TOTAL = 16  # 1 cluster, 2 hosts, 4 datastores, 3 networks, 6 VMs
CLUSTER = "container_orchestration_platform"


def _refs(client, **params):
    return sorted(r["ems_ref"] for r in all_resources(client, **params))


def test_filters(client: TestClient, tmp_path: Path) -> None:
    simulated = create_provider(client, name="dc", connection_config=SMALL)
    assert collect(client, simulated["id"])["status"] == "completed"
    assert upload(client, tarball(fixture_plugin("seed", tmp_path / "seed"))).status_code == 201
    seed = create_provider(client, name="seed", vendor="myvendor", provider_type="myplatform")
    assert collect(client, seed["id"])["status"] == "completed"
    seed_refs = ["vm-0", "vm-1", "vm-2"]

    assert len(_refs(client)) == SMALL_TOTAL + 3
    assert _refs(client, provider=seed["id"]) == seed_refs
    assert len(_refs(client, provider=simulated["id"])) == SMALL_TOTAL
    assert _refs(client, vendor="myvendor") == seed_refs
    assert len(_refs(client, vendor="simulated")) == SMALL_TOTAL
    assert _refs(client, vendor="nosuch") == []
    assert _refs(client, resource_type="hypervisor_host") == ["host-0001", "host-0002"]
    assert _refs(client, resource_type="container_orchestration_platform") == ["cluster-01"]
    assert _refs(client, state="stopped", provider=seed["id"]) == ["vm-1"]
    assert _refs(client, state="running", vendor="myvendor") == ["vm-0", "vm-2"]
    assert len(_refs(client, region="dc-1")) == SMALL_TOTAL
    assert _refs(client, region="elsewhere") == []
    assert _refs(client, search="ESXI-0002") == ["host-0002"]
    assert _refs(client, search="Web-1") == ["vm-1"]
    assert _refs(client, search="pg-vlan") == ["network-01", "network-02", "network-03"]
    assert _refs(client, search="100%") == []
    assert _refs(client, search="_") == []
    assert _refs(client, search="vm-0", provider=seed["id"]) == ["vm-0"]
    vms = all_resources(client, resource_type="virtual_machine", provider=simulated["id"])
    assert len(vms) == 6
    assert {vm["region"] for vm in vms} == {"dc-1"}
    running = {vm["ems_ref"] for vm in vms if vm["state"] == "running"}
    assert set(_refs(client, state="running", provider=simulated["id"])) == running

    for params in [{"provider": "one"}, {"include_deleted": "perhaps"}, {"page_size": 0}]:
        response = client.get(f"{API}/resources/", params=params)
        assert response.status_code == 400, params
        assert next(iter(params)) in response.json()["detail"]


def test_cursor_pages_walk_everything_once_both_ways(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])

    pages = [client.get(f"{API}/resources/", params={"page_size": 5}).json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())

    assert [len(p["results"]) for p in pages] == [5, 5, 5, 1]
    assert {p["count"] for p in pages} == {SMALL_TOTAL}
    ids = [r["id"] for p in pages for r in p["results"]]
    assert ids == sorted(set(ids))
    assert len(ids) == SMALL_TOTAL
    assert pages[0]["previous"] is None
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(client.get(back[-1]["previous"]).json())
    assert [p["results"] for p in back] == [p["results"] for p in reversed(pages)]
    assert back[-1]["next"] is not None
    assert client.get(back[-1]["next"]).json()["results"] == pages[1]["results"]
    filtered = all_resources(client, resource_type="virtual_machine", page_size=4)
    assert [r["ems_ref"] for r in filtered] == [f"vm-{i:06d}" for i in range(1, 7)]

    too_far = base64.urlsafe_b64encode(b"n" + b"9" * 20).decode()
    for garbage in ["!!!", "garbage", "bjEyMw-x", "eDEy", "p", "n-1x", too_far]:
        response = client.get(f"{API}/resources/", params={"cursor": garbage})
        assert response.status_code == 400, (garbage, response.text)
        assert "cursor" in response.json()["detail"]


def test_detail_resolves_relationships_both_ways(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    by_ref = {r["ems_ref"]: r for r in all_resources(client)}

    vm = client.get(f"{API}/resources/{by_ref['vm-000001']['id']}/").json()
    host = client.get(f"{API}/resources/{by_ref['host-0001']['id']}/").json()
    cluster = client.get(f"{API}/resources/{by_ref['cluster-01']['id']}/").json()

    detail_only = ("relationships", "relationships_complete")
    assert {k: v for k, v in vm.items() if k not in detail_only} == by_ref["vm-000001"]
    assert vm["relationships_complete"] is True
    assert ("runs_on", "outgoing", "host-0001", host["id"], host["name"], "hypervisor_host") in {
        _edge(e) for e in vm["relationships"]
    }
    assert {e["relationship_type"] for e in vm["relationships"]} == {
        "runs_on",
        "attached_to",
        "connected_to",
    }
    outgoing = [_edge(e) for e in host["relationships"] if e["direction"] == "outgoing"]
    assert outgoing == [
        ("member_of", "outgoing", "cluster-01", cluster["id"], "Cluster-01", CLUSTER)
    ]
    incoming = [_edge(e) for e in host["relationships"] if e["direction"] == "incoming"]
    assert sorted(incoming) == [
        ("runs_on", "incoming", ref, by_ref[ref]["id"], by_ref[ref]["name"], "virtual_machine")
        for ref in ("vm-000001", "vm-000003", "vm-000005")
    ]
    members = [e["ems_ref"] for e in cluster["relationships"] if e["direction"] == "incoming"]
    assert sorted(members) == ["host-0001", "host-0002"]
    assert client.get(f"{API}/resources/404404/").status_code == 404
    assert client.get(f"{API}/resources/404404/history/").status_code == 404


def _edge(edge):
    return (
        edge["relationship_type"],
        edge["direction"],
        edge["ems_ref"],
        edge["resource_id"],
        edge["name"],
        edge["resource_type"],
    )


def _history(client, resource_id):
    page = client.get(f"{API}/resources/{resource_id}/history/", params={"page_size": 1000})
    assert page.status_code == 200, page.text
    return page.json()


def _guests(client, host_ref):
    """The ems_refs of the VMs that run on a host, from the host's incoming edges."""
    [host] = all_resources(client, search=host_ref)
    edges = client.get(f"{API}/resources/{host['id']}/").json()["relationships"]
    return sorted(e["ems_ref"] for e in edges if e["relationship_type"] == "runs_on")


def _change_rows(settings):
    engine = create_engine(settings.database)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM resource_changes")).scalar_one()
    finally:
        engine.dispose()


def test_history_records_created_modified_deleted_restored_and_nothing_else(
    client: TestClient, settings: Settings
) -> None:
    estate = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 50, "churn_percent": 10}
    provider = create_provider(client, connection_config={**estate, "generation": 0})
    first = collect(client, provider["id"])
    assert first["resources_created"] == first["resources_found"] == 110

    patch_config(client, provider["id"], **estate, generation=1)
    churned = collect(client, provider["id"])
    assert churned["status"] == "completed"
    assert churned["resources_updated"] == 10  # 10% of 100 VMs
    assert churned["resources_unchanged"] == 100
    vms = all_resources(client, resource_type="virtual_machine", page_size=1000)
    changed = [vm for vm in vms if vm["updated_at"] != vm["first_seen_at"]]
    assert len(changed) == 10
    still = next(vm for vm in vms if vm["updated_at"] == vm["first_seen_at"])
    history = _history(client, changed[0]["id"])["results"]
    assert [h["kind"] for h in history] == ["modified", "created"]
    assert [h["run"] for h in history] == [churned["id"], first["id"]]
    assert history[0]["id"] > history[1]["id"]
    modified = history[0]["changes"]
    assert modified["properties.change_version"] == {"from": 0, "to": 1}
    assert all(set(change) == {"from", "to"} for change in modified.values())
    assert changed[0]["properties"]["change_version"] == 1
    assert history[1]["changes"] is None
    assert [h["kind"] for h in _history(client, still["id"])["results"]] == ["created"]

    rows = _change_rows(settings)
    counts = {vm["id"]: _history(client, vm["id"])["count"] for vm in (changed[0], still)}
    unchanged = collect(client, provider["id"])
    assert unchanged["resources_unchanged"] == 110
    assert unchanged["resources_updated"] == unchanged["resources_created"] == 0
    assert _change_rows(settings) == rows
    assert {i: _history(client, i)["count"] for i in counts} == counts

    patch_config(client, provider["id"], **{**estate, "vms_per_host": 45}, generation=1)
    shrunk = collect(client, provider["id"])
    assert shrunk["resources_deleted"] == 10
    assert _change_rows(settings) == rows + 10
    gone = [f"vm-{i:06d}" for i in range(91, 101)]
    assert len(all_resources(client, resource_type="virtual_machine")) == 90
    with_deleted = all_resources(client, resource_type="virtual_machine", include_deleted="true")
    assert len(with_deleted) == 100
    deleted = [vm for vm in with_deleted if vm["is_deleted"]]
    assert [vm["ems_ref"] for vm in deleted] == gone
    assert all(vm["deleted_at"] is not None for vm in deleted)
    assert _refs(client, search="000095") == []
    assert _refs(client, search="000095", include_deleted="true") == ["vm-000095"]
    detail = client.get(f"{API}/resources/{deleted[0]['id']}/").json()
    assert detail["is_deleted"] is True
    # A deleted VM still shows where it ran; the host no longer counts it as a guest.
    assert ("runs_on", "outgoing", "host-0001") in {_edge(e)[:3] for e in detail["relationships"]}
    assert _guests(client, "host-0002") == [f"vm-{i:06d}" for i in range(2, 91, 2)]
    assert _history(client, deleted[0]["id"])["results"][0]["kind"] == "deleted"
    assert _history(client, deleted[0]["id"])["results"][0]["run"] == shrunk["id"]

    patch_config(client, provider["id"], **estate, generation=1)
    grown = collect(client, provider["id"])
    assert grown["resources_restored"] == 10
    assert grown["resources_created"] == grown["resources_deleted"] == 0
    back = client.get(f"{API}/resources/{deleted[0]['id']}/").json()
    assert back["is_deleted"] is False
    assert back["deleted_at"] is None
    assert [h["kind"] for h in _history(client, deleted[0]["id"])["results"]] == [
        "restored",
        "deleted",
        "created",
    ]
    assert len(all_resources(client, resource_type="virtual_machine")) == 100
    assert _guests(client, "host-0002") == [f"vm-{i:06d}" for i in range(2, 101, 2)]


def test_history_pages(client: TestClient) -> None:
    provider = create_provider(client, connection_config={**SMALL, "churn_percent": 100})
    for generation in range(3):
        patch_config(client, provider["id"], **SMALL, churn_percent=100, generation=generation)
        collect(client, provider["id"])
    vm = all_resources(client, resource_type="virtual_machine")[0]

    page = client.get(f"{API}/resources/{vm['id']}/history/", params={"page_size": 2}).json()

    assert page["count"] == 3
    assert [h["kind"] for h in page["results"]] == ["modified", "modified"]
    rest = client.get(page["next"]).json()
    assert [h["kind"] for h in rest["results"]] == ["created"]
    assert rest["next"] is None


def test_history_pages_of_one_end_with_the_derived_created_entry(client: TestClient) -> None:
    provider = create_provider(client, connection_config={**SMALL, "churn_percent": 100})
    runs = []
    for generation in range(3):
        patch_config(client, provider["id"], **SMALL, churn_percent=100, generation=generation)
        runs.append(collect(client, provider["id"])["id"])
    vm = all_resources(client, resource_type="virtual_machine")[0]
    url = f"{API}/resources/{vm['id']}/history/"

    pages = [client.get(url, params={"page_size": 1, "page": n}).json() for n in (1, 2, 3, 4)]

    assert [p["count"] for p in pages] == [3, 3, 3, 3]
    assert [[h["kind"] for h in p["results"]] for p in pages] == [
        ["modified"],
        ["modified"],
        ["created"],
        [],
    ]
    created = pages[2]["results"][0]
    assert (created["id"], created["run"], created["changes"]) == (0, runs[0], None)
    assert created["changed_at"] == vm["first_seen_at"]
    assert pages[2]["next"] is None
    assert pages[1]["next"] is not None
