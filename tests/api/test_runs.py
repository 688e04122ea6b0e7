"""Collection runs: lifecycle, counters, log, filters, cancel, failed and partial runs."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from estate.api.app import create_app
from estate.config import Settings
from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    fixture_plugin,
    patch_config,
    start_run,
    tarball,
    upload,
    wait_for_run,
    wait_for_status,
)

SMALL = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
SMALL_TOTAL = 1 + 2 + 4 + 3 + 6  # clusters, hosts, datastores, networks, VMs
BIG = {"resources": 1_000_000}  # runs for many seconds: long enough to be caught running


def _count(client, **params):
    return client.get(f"{API}/resources/", params={**params, "page_size": 1}).json()["count"]


def _counters(run):
    names = ("found", "created", "updated", "unchanged", "deleted", "restored")
    return {name: run[f"resources_{name}"] for name in names} | {"errors": run["errors"]}


def _counts(found=0, created=0, updated=0, unchanged=0, deleted=0, restored=0, errors=0):
    return {
        "found": found,
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "deleted": deleted,
        "restored": restored,
        "errors": errors,
    }


def test_a_run_goes_from_accepted_to_completed_with_its_counters_and_log(
    client: TestClient,
) -> None:
    provider = create_provider(client, connection_config=SMALL)

    accepted = start_run(client, provider["id"])
    assert accepted["status"] in ("pending", "running")
    assert accepted["provider"] == provider["id"]
    assert accepted["plugin_key"] == "simulated:datacenter"
    assert accepted["finished_at"] is None
    first = wait_for_run(client, accepted["id"])

    assert first["status"] == "completed", first
    assert _counters(first) == _counts(found=SMALL_TOTAL, created=SMALL_TOTAL)
    assert first["plugin_version"] == "1.0.0"
    assert len(first["plugin_sha256"]) == 64
    assert first["error_message"] is None
    assert first["error_details"] == []
    assert first["created_at"] <= first["started_at"] <= first["finished_at"]
    assert first["duration_seconds"] >= 0
    detail = client.get(f"{API}/collection-runs/{first['id']}/").json()
    assert f"collecting {SMALL_TOTAL} resources (1 clusters, 2 hosts" in detail["log"]
    assert "starting simulated:datacenter 1.0.0" in detail["log"]

    again = collect(client, provider["id"])
    assert _counters(again) == _counts(found=SMALL_TOTAL, unchanged=SMALL_TOTAL)

    patch_config(client, provider["id"], **{**SMALL, "vms_per_host": 2})
    shrunk = collect(client, provider["id"])
    assert shrunk["status"] == "completed"
    assert _counters(shrunk) == _counts(found=SMALL_TOTAL - 2, unchanged=SMALL_TOTAL - 2, deleted=2)

    patch_config(client, provider["id"], **{**SMALL, "vms_per_host": 4, "seed": 7})
    grown = collect(client, provider["id"])
    counters = _counters(grown)
    assert counters["found"] == SMALL_TOTAL + 2
    assert counters["restored"] == 2
    assert counters["created"] == 2
    assert counters["updated"] > 0
    assert sum(counters[k] for k in ("created", "updated", "unchanged", "restored")) == (
        SMALL_TOTAL + 2
    )


def test_runs_are_listed_newest_first_and_filtered(client: TestClient) -> None:
    one = create_provider(client, name="one", connection_config=SMALL)
    two = create_provider(client, name="two", vendor="acme", provider_type="cloud")
    completed = [collect(client, one["id"])["id"], collect(client, one["id"])["id"]]
    failed = collect(client, two["id"])["id"]

    def ids(**params):
        page = client.get(f"{API}/collection-runs/", params=params)
        assert page.status_code == 200, page.text
        return [run["id"] for run in page.json()["results"]]

    assert ids() == [failed, completed[1], completed[0]]
    assert ids(provider=one["id"]) == completed[::-1]
    assert ids(provider=two["id"]) == [failed]
    assert ids(status="completed") == completed[::-1]
    assert ids(status="failed", provider=two["id"]) == [failed]
    assert ids(status="running") == []
    assert ids(provider=404) == []
    page = client.get(f"{API}/collection-runs/", params={"page_size": 2}).json()
    assert page["count"] == 3
    assert [r["id"] for r in client.get(page["next"]).json()["results"]] == [completed[0]]
    listed = page["results"][0]
    detail = client.get(f"{API}/collection-runs/{failed}/").json()
    assert "log" not in listed
    assert {k: v for k, v in detail.items() if k != "log"} == listed

    bad = client.get(f"{API}/collection-runs/", params={"status": "bogus"})
    assert bad.status_code == 400
    assert "status" in bad.json()["detail"]
    assert "completed" in bad.json()["detail"]


@pytest.fixture
def one_worker(settings: Settings) -> Iterator[TestClient]:
    """The service with a single job worker, so a second run has to wait its turn."""
    with TestClient(create_app(settings.model_copy(update={"workers": 1}))) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())
        yield client


def test_pending_and_running_runs_can_be_canceled_and_delete_nothing(
    one_worker: TestClient,
) -> None:
    client = one_worker
    big = create_provider(client, name="big", connection_config=SMALL)
    small = create_provider(client, name="small", connection_config=SMALL)
    assert collect(client, big["id"])["status"] == "completed"
    assert collect(client, small["id"])["status"] == "completed"
    alive = _count(client)
    patch_config(client, big["id"], **BIG)

    running = start_run(client, big["id"])
    wait_for_status(client, running["id"], "running")
    pending = start_run(client, small["id"])
    assert client.get(f"{API}/collection-runs/{pending['id']}/").json()["status"] == "pending"

    canceled = client.post(f"{API}/collection-runs/{pending['id']}/cancel/")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["error_message"] == "canceled by request"
    asked = client.post(f"{API}/collection-runs/{running['id']}/cancel/")
    assert asked.status_code == 200
    assert asked.json()["status"] == "running"

    stopped = wait_for_run(client, running["id"])
    assert stopped["status"] == "canceled", stopped
    assert stopped["error_message"] == "canceled by request"
    assert stopped["resources_deleted"] == 0
    assert stopped["resources_found"] < BIG["resources"]
    never = wait_for_run(client, pending["id"])
    assert never["status"] == "canceled"
    assert never["started_at"] is None
    assert never["resources_found"] == 0
    assert _count(client, include_deleted="true") == _count(client) >= alive
    assert _count(client, provider=small["id"]) == SMALL_TOTAL
    for run in (stopped, never):
        again = client.post(f"{API}/collection-runs/{run['id']}/cancel/")
        assert again.status_code == 409
        assert "canceled" in again.json()["detail"]


def test_a_finished_run_cannot_be_canceled(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    run = collect(client, provider["id"])

    refused = client.post(f"{API}/collection-runs/{run['id']}/cancel/")

    assert refused.status_code == 409
    assert f"collection run {run['id']} is completed" in refused.json()["detail"]
    assert client.get(f"{API}/collection-runs/{run['id']}/").json()["status"] == "completed"
    assert client.post(f"{API}/collection-runs/404404/cancel/").status_code == 404


def test_a_failing_plugin_fails_the_run_keeps_what_arrived_and_deletes_nothing(
    client: TestClient,
) -> None:
    wide = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 1000}  # 2,010 resources
    provider = create_provider(client, connection_config={**wide, "fail_after": 1500})

    first = collect(client, provider["id"])
    assert first["status"] == "failed", first
    assert "fail_after" in first["error_message"]
    assert first["resources_deleted"] == 0
    # The first full batch (1,000 resources) reached the service before the failure.
    assert first["resources_created"] == first["resources_found"] >= 1000
    stored = len(all_resources(client, page_size=1000))
    assert stored == first["resources_created"]
    assert "fail_after" in client.get(f"{API}/collection-runs/{first['id']}/").json()["log"]

    patch_config(client, provider["id"], **wide)
    full = collect(client, provider["id"])
    assert full["status"] == "completed"
    assert full["resources_created"] == 2010 - stored

    patch_config(client, provider["id"], **wide, seed=7, fail_after=1500)
    failed = collect(client, provider["id"])
    assert failed["status"] == "failed"
    assert failed["resources_deleted"] == 0
    assert failed["resources_updated"] > 0
    everything = all_resources(client, page_size=1000, include_deleted="true")
    assert len(everything) == 2010
    assert not any(r["is_deleted"] for r in everything)
    last = everything[-1]  # a VM the failed run never reached
    history = client.get(f"{API}/resources/{last['id']}/history/").json()["results"]
    assert [change["kind"] for change in history] == ["created"]
    reached = next(r for r in everything if r["ems_ref"] == "vm-000001")
    history = client.get(f"{API}/resources/{reached['id']}/history/").json()["results"]
    assert (history[0]["kind"], history[0]["run"]) == ("modified", failed["id"])


def test_invalid_resources_make_a_partial_run_that_stores_the_good_and_deletes_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("mixed_resources", tmp_path / "mixed")
    assert upload(client, tarball(folder)).status_code == 201, "upload"
    provider = create_provider(
        client, vendor="mixed", provider_type="bag", connection_config={"bad": False}
    )
    assert collect(client, provider["id"])["resources_created"] == 5
    patch_config(client, provider["id"], bad=True)

    run = collect(client, provider["id"])

    assert run["status"] == "partial", run
    assert _counters(run) | {"found": None} == _counts(found=None, created=1, unchanged=4, errors=4)
    assert "4 resource(s) rejected" in run["error_message"]
    problems = {problem.get("ems_ref"): problem["error"] for problem in run["error_details"]}
    assert "flux_capacitor" in problems["thing-1"]
    assert "resource_type_slug" in problems["thing-1"]
    assert "cpu_count" in problems["vm-bad"]
    assert "relational_db" in problems["db-1"]
    assert any("str" in error for ref, error in problems.items() if ref is None)
    refs = {r["ems_ref"]: r for r in all_resources(client, provider=provider["id"])}
    assert set(refs) == {"host-1", "vm-0", "vm-1", "vm-2", "vm-old", "vm-new"}
    assert not any(r["is_deleted"] for r in refs.values())
    assert refs["vm-new"]["name"] == "new"
    detail = client.get(f"{API}/providers/{provider['id']}/").json()
    assert detail["last_refresh_at"] is not None


def test_nul_characters_from_a_plugin_are_refused_or_escaped_never_wedge_the_run(
    client: TestClient, tmp_path: Path
) -> None:
    """PostgreSQL stores no NUL: the record holding one is rejected, the log line and
    the error message keep it escaped, and the run ends as it should."""
    folder = fixture_plugin("nul_characters", tmp_path / "nul")
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client, vendor="nul", provider_type="bytes", connection_config={"fail": False}
    )

    partial = collect(client, provider["id"])

    assert partial["status"] == "partial", partial
    assert _counters(partial) == _counts(found=3, created=2, errors=1)
    assert partial["error_details"] == [
        {
            "ems_ref": "vm-2",
            "index": 1,
            "error": "name: contains a NUL character (\\u0000), which no text column stores",
        }
    ]
    assert "a line with a \\x00 in it" in partial["log"]
    stored = {r["ems_ref"]: r for r in all_resources(client, provider=provider["id"])}
    assert sorted(stored) == ["vm-1", "vm-3"]
    assert stored["vm-3"]["properties"] == {"huge": float(2**70)}  # beyond 64 bits: a float

    patch_config(client, provider["id"], fail=True)
    failed = collect(client, provider["id"])

    assert failed["status"] == "failed", failed
    assert "the platform said \\x00 and hung up" in failed["error_message"]


def test_a_run_logs_one_line_at_its_start_and_one_at_its_end(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="estate.jobs.collect")
    provider = create_provider(client)
    run = collect(client, provider["id"])
    assert run["status"] == "completed"

    lines = [r.getMessage() for r in caplog.records if r.name == "estate.jobs.collect"]
    head = f"collection run {run['id']} of provider {provider['id']} (simulated:datacenter)"
    assert lines[0] == f"{head} started"
    assert lines[1].startswith(f"{head} completed in ")
    assert lines[1].endswith(
        f" s: found {run['resources_found']}, created {run['resources_created']}, "
        "updated 0, unchanged 0, deleted 0, errors 0"
    )
    assert len(lines) == 2


def test_a_part_the_plugin_could_not_read_makes_a_partial_run_that_deletes_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    assert upload(client, tarball(fixture_plugin("regions", tmp_path / "r"))).status_code == 201
    provider = create_provider(client, vendor="test", provider_type="regions")
    assert collect(client, provider["id"])["resources_created"] == 6
    patch_config(client, provider["id"], failing=["east"])

    run = collect(client, provider["id"])

    assert run["status"] == "partial", run
    assert _counters(run) == _counts(found=4, unchanged=4)
    assert run["error_message"] == "could not read region east: ConnectionError: endpoint timed out"
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert "could not read region east" in log
    refs = {r["ems_ref"]: r for r in all_resources(client, provider=provider["id"])}
    assert len(refs) == 6
    assert not any(r["is_deleted"] for r in refs.values())

    patch_config(client, provider["id"], failing=[])
    assert collect(client, provider["id"])["status"] == "completed"
    patch_config(client, provider["id"], failing=[], malformed=True)
    bad = collect(client, provider["id"])
    assert bad["status"] == "failed"
    assert "malformed 'incomplete' list" in bad["error_message"]
    assert bad["resources_deleted"] == 0
