"""resource-sightings/: one item per observation, stored only when it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from estate.config import Settings
from factories import API, all_resources, collect, create_provider, patch_config

ESTATE = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 50, "churn_percent": 10}
FIELDS = {
    "id",
    "resource",
    "resource_name",
    "collection_run",
    "seen_at",
    "last_collection_run",
    "last_seen_at",
    "seen_count",
    "seen_before",
    "is_current",
    "state",
    "power_state",
    "boot_time",
    "cpu_count",
    "memory_mb",
    "disk_gb",
    "metrics",
}


def _run_sql(settings: Settings, sql: str) -> Any:
    engine = create_engine(settings.database)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def _stored(settings: Settings) -> int:
    """How many sighting rows are stored (ended sightings only)."""
    count: int = _run_sql(settings, "SELECT count(*) FROM resource_sightings")
    return count


def _all(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/{path}", params={"page_size": 1000, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["next"] is None
    assert body["count"] == len(body["results"])
    results: list[dict[str, Any]] = body["results"]
    return results


def test_unchanged_resources_add_no_sighting_rows(client: TestClient, settings: Settings) -> None:
    provider = create_provider(client, connection_config={**ESTATE, "generation": 0})
    first = collect(client, provider["id"])
    assert _stored(settings) == 0  # the current sighting is the resource row
    items = _all(client, "resource-sightings/")
    assert len(items) == 110
    assert {frozenset(item) for item in items} == {frozenset(FIELDS)}
    assert {(i["collection_run"], i["last_collection_run"], i["seen_count"]) for i in items} == {
        (first["id"], first["id"], 1)
    }
    assert all(i["is_current"] and i["seen_before"] == 0 for i in items)

    again = collect(client, provider["id"])
    assert again["resources_unchanged"] == 110
    assert _stored(settings) == 0
    items = _all(client, "resource-sightings/")
    assert {(i["collection_run"], i["last_collection_run"], i["seen_count"]) for i in items} == {
        (first["id"], again["id"], 2)
    }
    resources = all_resources(client)
    assert {(r["seen_count"], r["last_seen_run"]) for r in resources} == {(2, again["id"])}
    detail = client.get(f"{API}/resources/{resources[0]['id']}/").json()
    assert (detail["seen_count"], detail["last_seen_run"]) == (2, again["id"])

    patch_config(client, provider["id"], **ESTATE, generation=1)
    churned = collect(client, provider["id"])
    assert churned["resources_updated"] == 10
    assert _stored(settings) == 10  # one row per VM whose memory and power changed
    vms = all_resources(client, resource_type="virtual_machine", page_size=1000)
    changed = [vm for vm in vms if vm["updated_at"] != vm["first_seen_at"]]
    still = next(vm for vm in vms if vm["updated_at"] == vm["first_seen_at"])

    now, before = _all(client, f"resources/{changed[0]['id']}/sightings/")
    assert now["is_current"] and not before["is_current"]
    assert (now["collection_run"], now["last_collection_run"], now["seen_count"]) == (
        churned["id"],
        churned["id"],
        1,
    )
    assert (before["collection_run"], before["last_collection_run"], before["seen_count"]) == (
        first["id"],
        again["id"],
        2,
    )
    assert (before["seen_before"], now["seen_before"]) == (0, 2)
    assert now["id"] == f"{changed[0]['id']}-2" and before["id"] == f"{changed[0]['id']}-0"
    assert now["memory_mb"] == changed[0]["memory_mb"] != before["memory_mb"]
    assert before["seen_at"] <= before["last_seen_at"] <= now["seen_at"]
    for item in (now, before):
        detail = client.get(f"{API}/resource-sightings/{item['id']}/")
        assert detail.status_code == 200 and detail.json() == item
    for missing in (f"{changed[0]['id']}-1", "x-0", "-0", f"{changed[0]['id']}", "99999-0"):
        assert client.get(f"{API}/resource-sightings/{missing}/").status_code == 404
    [kept] = _all(client, f"resources/{still['id']}/sightings/")
    assert (kept["collection_run"], kept["last_collection_run"], kept["seen_count"]) == (
        first["id"],
        churned["id"],
        3,
    )

    later = collect(client, provider["id"])
    assert later["resources_unchanged"] == 110
    assert _stored(settings) == 10
    assert len(_all(client, "resource-sightings/")) == 120


def test_sighting_filters(client: TestClient) -> None:
    provider = create_provider(client, connection_config={**ESTATE, "generation": 0})
    first = collect(client, provider["id"])
    patch_config(client, provider["id"], **ESTATE, generation=1)
    churned = collect(client, provider["id"])
    other = create_provider(client, name="other", connection_config=ESTATE)
    collect(client, other["id"])

    assert len(_all(client, "resource-sightings/")) == 230
    assert len(_all(client, "resource-sightings/", provider=provider["id"])) == 120
    # The sightings that cover a run: every resource of its provider once.
    assert len(_all(client, "resource-sightings/", collection_run=first["id"])) == 110
    in_churn = _all(client, "resource-sightings/", collection_run=churned["id"])
    assert len(in_churn) == 110 and all(i["is_current"] for i in in_churn)
    ended = _all(client, "resource-sightings/", seen_before=first["finished_at"])
    assert len(ended) == 110  # the first run's observations, ended or not
    assert len(_all(client, "resource-sightings/", seen_after=churned["started_at"])) == 220
    running = _all(client, "resource-sightings/", state="running", provider=provider["id"])
    assert running and {i["state"] for i in running} == {"running"}
    named = _all(client, "resource-sightings/", search="esxi-0001")
    assert {i["resource_name"] for i in named} == {"esxi-0001.dc-1.simulated"}
    newest = _all(client, "resource-sightings/")
    assert [i["seen_at"] for i in newest] == sorted((i["seen_at"] for i in newest), reverse=True)
    by_memory = [
        i["memory_mb"] or 0 for i in _all(client, "resource-sightings/", ordering="memory_mb")
    ]
    assert by_memory == sorted(by_memory)

    page = client.get(f"{API}/resource-sightings/", params={"page": 3, "page_size": 100}).json()
    assert page["count"] == 230 and len(page["results"]) == 30 and page["next"] is None

    for params, name in (
        ({"state": "on"}, "state"),
        ({"ordering": "name"}, "ordering"),
        ({"seen_after": "soon"}, "seen_after"),
        ({"collection_run": 0}, "collection_run"),
        ({"seen": 1}, "seen"),
    ):
        response = client.get(f"{API}/resource-sightings/", params=params)
        assert response.status_code == 400, (params, response.text)
        assert name in response.json()["detail"]
    assert client.get(f"{API}/resources/999/sightings/").status_code == 404


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with ended sightings kept one day."""
    return settings.model_copy(update={"sighting_retention_days": 1})


def test_ended_sightings_past_retention_go_after_a_run_of_their_provider(
    client: TestClient, settings: Settings
) -> None:
    provider = create_provider(client, connection_config={**ESTATE, "generation": 0})
    collect(client, provider["id"])
    patch_config(client, provider["id"], **ESTATE, generation=1)
    collect(client, provider["id"])
    assert _stored(settings) == 10
    collect(client, provider["id"])
    assert _stored(settings) == 10  # seen within the day: kept

    old = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    _run_sql(settings, f"UPDATE resource_sightings SET last_seen_at = '{old}' WHERE id % 2 = 0")
    collect(client, provider["id"])
    assert _stored(settings) == 5
    assert len(_all(client, "resource-sightings/")) == 115
