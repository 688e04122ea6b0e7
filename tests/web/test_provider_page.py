"""A provider's page offers what the visitor's role may do (test the connection and
run a schedule from operator up; add, switch off and delete schedules and delete the
provider as an administrator), and the dashboard names the schedules that did not
fire on time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from estate.api.app import create_app
from estate.config import Settings
from estate.db.models import CollectionSchedule
from factories import API, HTML, create_provider, log_in, start_run, wait_for_status

SIMULATED = {"password": "simulated"}


def _member(client: TestClient, username: str, role: str) -> TestClient:
    user = client.post(
        f"{API}/users/", json={"username": username, "password": f"{username}-pw-123"}
    )
    assert user.status_code == 201, user.text
    member = {"user": user.json()["id"], "role": role}
    assert client.post(f"{API}/organizations/1/members/", json=member).status_code == 201
    other = TestClient(client.app)
    log_in(other, username, f"{username}-pw-123")
    return other


def test_each_role_is_offered_only_what_it_may_do(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SIMULATED)
    schedule = {"name": "nightly", "cron_expression": "0 2 * * *"}
    created = client.post(f"{API}/providers/{provider['id']}/schedules/", json=schedule)
    assert created.status_code == 201
    url = f"/providers/{provider['id']}"
    admin = TestClient(client.app)
    log_in(admin)

    pages = {
        "admin": admin.get(url, headers=HTML).text,
        "operator": _member(client, "oona", "operator").get(url, headers=HTML).text,
        "viewer": _member(client, "vito", "viewer").get(url, headers=HTML).text,
    }

    offered = {
        role: {
            control
            for control in (
                "test-connection",
                "Run now",
                "delete-provider",
                "schedule-form",
                "Disable",
            )
            if control in text
        }
        for role, text in pages.items()
    }
    assert offered == {
        "admin": {"test-connection", "Run now", "delete-provider", "schedule-form", "Disable"},
        "operator": {"test-connection", "Run now"},
        "viewer": set(),
    }
    assert all("nightly" in text and "0 2 * * *" in text for text in pages.values())


def test_the_dashboard_names_a_schedule_skipped_for_a_run_in_progress(
    client: TestClient,
) -> None:
    provider = create_provider(client, connection_config={**SIMULATED, "resources": 5_000_000})
    run = start_run(client, provider["id"])
    wait_for_status(client, run["id"], "running")
    every_second = {"name": "busy", "cron_expression": "* * * * * *"}
    created = client.post(f"{API}/providers/{provider['id']}/schedules/", json=every_second)
    schedule_url = f"{API}/providers/{provider['id']}/schedules/{created.json()['id']}/"
    deadline = time.monotonic() + 30
    while client.get(schedule_url).json()["last_skipped_at"] is None:
        assert time.monotonic() < deadline, "the scheduler never looked at the due schedule"
        time.sleep(0.2)
    page = TestClient(client.app)
    log_in(page)

    dashboard = page.get("/", headers=HTML).text

    client.patch(schedule_url, json={"enabled": False})  # no more firings once the run ends
    assert client.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code == 200
    behind = dashboard.split('id="behind-schedule"', 1)[1].split("</ul>", 1)[0]
    assert "busy" in behind and "skipped at" in behind and f"run {run['id']} was running" in behind


def test_the_dashboard_names_a_schedule_nothing_fired(settings: Settings) -> None:
    """A due schedule no scheduler fired (the service was down): its scheduler looks
    only once a minute here, so the past due time set below stays unfired."""
    slow = settings.model_copy(update={"schedule_interval": 60.0})
    with TestClient(create_app(slow)) as client:
        client.auth = ("admin", settings.admin_password.get_secret_value())  # type: ignore[union-attr]
        provider = create_provider(client, connection_config=SIMULATED)
        on_time = {"name": "on-time", "cron_expression": "0 2 * * *"}
        missed = {"name": "missed", "cron_expression": "0 3 * * *"}
        for body in (on_time, missed):
            created = client.post(f"{API}/providers/{provider['id']}/schedules/", json=body)
            assert created.status_code == 201
        with client.app.state.context.sessions() as session, session.begin():
            session.execute(
                update(CollectionSchedule)
                .where(CollectionSchedule.name == "missed")
                .values(next_run_at=datetime.now(UTC) - timedelta(hours=2))
            )
        log_in(client)

        dashboard = client.get("/", headers=HTML).text

    behind = dashboard.split('id="behind-schedule"', 1)[1].split("</ul>", 1)[0]
    assert "missed" in behind and "not fired" in behind
    assert "on-time" not in behind
