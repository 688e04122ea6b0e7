"""Conformance runs through the service: the real suite against a provider's platform,
its report stored against the plugin version, the catalog and badges showing it; and
every wrong request refused by name, with nothing stored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import API, FIXTURE_PLUGINS, create_provider, tarball, upload

SIMULATED = "simulated:datacenter"
SMALL = {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 3, "datastores": 1, "networks": 1}


def _start(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post(f"{API}/provider-plugins/{key}/conformance/", json=body)


def _wait(client: TestClient, run_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen_progress = False
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/conformance-runs/{run_id}/").json()
        seen_progress |= run["status"] == "running" and run["checks_done"] > 0
        if run["status"] in ("completed", "failed"):
            run["seen_progress"] = seen_progress
            return run
        time.sleep(0.2)
    raise AssertionError(f"conformance run {run_id} did not end in {timeout} s")


def test_a_run_through_the_service_is_stored_and_the_catalog_shows_it(
    client: TestClient,
) -> None:
    provider = create_provider(client, connection_config={**SMALL, "password": "simulated"})

    started = _start(client, SIMULATED, {"provider": provider["id"]})

    assert started.status_code == 202, started.text
    assert started.json()["status"] == "pending"
    run = _wait(client, started.json()["id"])
    assert run["status"] == "completed", run
    assert run["seen_progress"], "the counters never moved while it ran"
    assert run["profile_status"] == dict.fromkeys(
        ["base", "core", "snapshot", "clone", "image", "advanced"], "pass"
    )
    assert run["checks_failed"] == 0 and run["checks_done"] == len(run["report"]["checks"])
    assert run["suite_version"] == run["report"]["suite_version"] == "1"
    assert run["plugin_key"] == SIMULATED and run["requested_by"] == "admin"
    assert run["report"]["plugin"]["key"] == SIMULATED

    entry = client.get(f"{API}/catalog/{SIMULATED}/").json()
    for profile in ("core", "snapshot", "clone", "image", "advanced"):
        result = entry["conformance"][profile]
        assert (result["status"], result["run"]) == ("pass", run["id"]), profile
        assert result["platform"] == run["platform"]
    badge = client.get(f"{API}/catalog/{SIMULATED}/badges/snapshot.svg")
    assert "snapshot: pass" in badge.text
    listed = client.get(f"{API}/provider-plugins/{SIMULATED}/conformance/").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    everywhere = client.get(f"{API}/conformance-runs/", params={"status": "completed"}).json()
    assert [r["id"] for r in everywhere["results"]] == [run["id"]]


def test_a_plugin_that_ignores_revert_fails_snapshot_in_the_catalog(
    client: TestClient, tmp_path: Path
) -> None:
    upload(client, tarball(FIXTURE_PLUGINS / "ignores_revert"))
    provider = create_provider(
        client,
        name="Ignores revert",
        vendor="test",
        provider_type="ignores-revert",
        connection_config={"password": "revert-me-not"},
    )

    started = _start(client, "test:ignores-revert", {"provider": provider["id"]})

    assert started.status_code == 202, started.text
    run = _wait(client, started.json()["id"])
    assert run["status"] == "completed", run
    assert run["profile_status"]["snapshot"] == "fail"
    failed = [c for c in run["report"]["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["snapshot.snapshot_revert.restores_state"]
    assert "revert-me-not" not in str(run)
    entry = client.get(f"{API}/catalog/test:ignores-revert/").json()
    assert entry["conformance"]["snapshot"]["status"] == "fail"
    assert (
        "snapshot: fail"
        in client.get(f"{API}/catalog/test:ignores-revert/badges/snapshot.svg").text
    )


def test_a_wrong_request_is_refused_by_name_and_stores_nothing(client: TestClient) -> None:
    provider = create_provider(client)
    other = create_provider(
        client, name="Other", vendor="acme", provider_type="cloud", connection_config={}
    )
    bmc = create_provider(
        client, name="BMC", infrastructure="bare_metal", vendor="ipmi", provider_type="bmc",
        endpoint="127.0.0.1", connection_config={"username": "u", "password": "p"},
    )  # fmt: skip
    pid = provider["id"]

    cases = [
        ("nobody:here", {"provider": pid}, 404, "no ready plugin is installed with key"),
        (SIMULATED, {"provider": 99999}, 404, "no provider with id 99999"),
        (SIMULATED, {"provider": other["id"]}, 400, "uses acme:cloud, not simulated:datacenter"),
        (SIMULATED, {"provider": pid, "profiles": ["snapshots"]}, 400, "did you mean 'snapshot'"),
        (
            "ipmi:bmc",
            {"provider": bmc["id"], "profiles": ["snapshot"]},
            400,
            "does not claim profile 'snapshot'",
        ),
        (SIMULATED, {"provider": pid, "profiles": ["core", "core"]}, 400, "named twice"),
        (SIMULATED, {"provider": pid, "profile": ["core"]}, 400, "profile"),
        (SIMULATED, {}, 400, "provider"),
    ]
    for key, body, code, words in cases:
        answer = _start(client, key, body)
        assert answer.status_code == code, (body, answer.text)
        assert words in answer.text, (body, answer.text)
    assert client.get(f"{API}/conformance-runs/").json()["count"] == 0
    assert client.get(f"{API}/conformance-runs/", params={"status": "done"}).status_code == 400
    assert client.get(f"{API}/conformance-runs/99999/").status_code == 404


def test_a_second_run_against_a_busy_provider_answers_409(client: TestClient) -> None:
    provider = create_provider(client, connection_config={**SMALL, "password": "simulated"})
    first = _start(client, SIMULATED, {"provider": provider["id"], "profiles": ["core"]})
    assert first.status_code == 202, first.text

    second = _start(client, SIMULATED, {"provider": provider["id"]})

    assert second.status_code == 409, second.text
    assert f"conformance run {first.json()['id']} is already running" in second.text
    done = _wait(client, first.json()["id"])
    assert done["status"] == "completed" and set(done["profile_status"]) == {"base", "core"}
