"""Action runs keep secrets sealed and masked, and a running action can be canceled:
a plugin uploaded as operators do, run in its child process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from estate.db.models import ActionRun, Event
from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    fixture_plugin,
    tarball,
    upload,
    wait_for_action,
)

SECRET = "hunter2-very-secret"


def _provider(client: TestClient, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    uploaded = upload(client, tarball(fixture_plugin("secret_action", tmp_path / "plugin")))
    assert uploaded.status_code == 201, uploaded.text
    provider = create_provider(client, vendor="test", provider_type="secretaction")
    collect(client, provider["id"])
    return provider, all_resources(client, provider=provider["id"])


def test_a_secret_parameter_is_sealed_masked_and_never_shown(
    client: TestClient, tmp_path: Path
) -> None:
    _, (vm, *_) = _provider(client, tmp_path)

    started = client.post(
        f"{API}/resources/{vm['id']}/actions/set_password/", json={"params": {"password": SECRET}}
    )

    assert started.status_code == 202, started.text
    assert started.json()["parameters"] == {"password": "$encrypted$", "user": "root"}
    run = wait_for_action(client, started.json()["id"])
    assert run["status"] == "completed", run
    assert "setting root's password to" in run["log"]
    shown = str(run) + client.get(f"{API}/action-runs/").text
    shown += client.get(f"{API}/resources/{vm['id']}/automations/").text
    assert SECRET not in shown
    assert run["result"]["password"] != SECRET
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        stored = session.get(ActionRun, run["id"])
        assert stored is not None
        assert SECRET not in str(stored.parameters) + str(stored.secret_parameters)
        assert SECRET not in stored.log + str(stored.result)
        events = session.scalars(select(Event).where(Event.type == "password.set")).all()
        assert events and all(SECRET not in e.message for e in events)


def test_a_running_action_is_canceled_and_blocks_others_on_its_resource_meanwhile(
    client: TestClient, tmp_path: Path
) -> None:
    _, (vm, *_) = _provider(client, tmp_path)
    started = client.post(f"{API}/resources/{vm['id']}/actions/wait/")
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    second = client.post(
        f"{API}/resources/{vm['id']}/actions/set_password/", json={"params": {"password": "x"}}
    )
    canceled = client.post(f"{API}/action-runs/{run_id}/cancel/")

    assert second.status_code == 409, second.text
    assert canceled.status_code == 200, canceled.text
    run = wait_for_action(client, run_id)
    assert run["status"] == "canceled", run
    assert run["refresh_run"] is None
    listed = client.get(f"{API}/action-runs/", params={"status": "canceled", "action": "wait"})
    assert [r["id"] for r in listed.json()["results"]] == [run_id]


def test_a_long_action_holds_up_no_listing_and_the_next_action_runs_after_it(
    client: TestClient, tmp_path: Path
) -> None:
    _, (vm, other, *_) = _provider(client, tmp_path)
    started = client.post(f"{API}/resources/{vm['id']}/actions/wait/")
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    _wait_until_running(client, run_id)

    began = time.monotonic()
    listing = client.get(f"{API}/resources/{other['id']}/actions/")
    listed_in = time.monotonic() - began
    queued = client.post(
        f"{API}/resources/{other['id']}/actions/set_password/", json={"params": {"password": "y"}}
    )

    assert listing.status_code == 200, listing.text
    assert listed_in < 5, f"listing waited {listed_in:.1f} s behind the running action"
    assert {a["name"] for a in listing.json()["actions"]} == {"set_password", "wait"}
    assert queued.status_code == 202, queued.text
    assert client.post(f"{API}/action-runs/{run_id}/cancel/").status_code == 200
    assert wait_for_action(client, run_id)["status"] == "canceled"
    assert wait_for_action(client, queued.json()["id"])["status"] == "completed"


def _wait_until_running(client: TestClient, run_id: int) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"{API}/action-runs/{run_id}/").json()["status"] != "running":
        assert time.monotonic() < deadline, "the action never started"
        time.sleep(0.05)
