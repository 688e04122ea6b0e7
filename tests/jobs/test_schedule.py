"""The scheduler with a real clock: due schedules run, busy providers are skipped, a
missed firing runs once after a restart, and two service processes on one PostgreSQL
database start each firing exactly once."""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from conftest import ADMIN_PASSWORD, REPO, SECRET_KEY, _truncate
from estate.api.app import create_app
from estate.config import Settings
from estate.db.models import CollectionRun, CollectionSchedule
from estate.db.states import RunStatus
from factories import API, FINISHED, create_provider, wait_for_run
from served import serving

EVERY_SECOND = "* * * * * *"  # six fields: seconds last


def _eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def _runs(client: TestClient | httpx.Client, provider_id: int) -> list[dict[str, Any]]:
    page: dict[str, Any] = client.get(
        f"{API}/collection-runs/", params={"provider": provider_id}
    ).json()
    return list(page["results"])


def _scheduled_runs(
    client: TestClient | httpx.Client, provider_id: int, schedule_id: int
) -> list[dict[str, Any]]:
    trigger = f"schedule:{schedule_id}"
    return [r for r in _runs(client, provider_id) if r["trigger"] == trigger]


def test_a_schedule_due_within_two_seconds_starts_a_run_attributed_to_it(
    client: TestClient,
) -> None:
    provider = create_provider(client)
    url = f"{API}/providers/{provider['id']}/schedules/"
    schedule = client.post(url, json={"name": "often", "cron_expression": EVERY_SECOND}).json()
    due_at = datetime.fromisoformat(schedule["next_run_at"])
    assert due_at <= datetime.now(UTC) + timedelta(seconds=1)

    runs = _eventually(
        lambda: _scheduled_runs(client, provider["id"], schedule["id"]), 3, "a scheduled run"
    )
    client.patch(f"{url}{schedule['id']}/", json={"enabled": False})

    first = min(runs, key=lambda r: r["id"])
    assert datetime.fromisoformat(first["created_at"]) - due_at < timedelta(seconds=2)
    assert first["collection_type"] == "full"
    assert wait_for_run(client, first["id"])["status"] == "completed"
    after = client.get(f"{url}{schedule['id']}/").json()
    assert after["last_run_at"] is not None
    assert after["last_run"] >= first["id"]
    assert after["last_result"].startswith("started collection run")


def test_a_due_schedule_of_a_provider_with_a_run_in_progress_is_skipped_and_recorded(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="estate.jobs.schedule")
    provider = create_provider(client)
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        # Never submitted: it keeps the provider busy for as long as the test needs.
        busy = CollectionRun(provider_id=provider["id"], status=RunStatus.RUNNING)
        session.add(busy)
        session.commit()
        busy_id = busy.id
    url = f"{API}/providers/{provider['id']}/schedules/"
    schedule = client.post(url, json={"name": "often", "cron_expression": EVERY_SECOND}).json()
    detail = f"{url}{schedule['id']}/"

    skipped = _eventually(
        lambda: (s := client.get(detail).json())["last_skipped_at"] and s, 3, "a recorded skip"
    )
    time.sleep(1.5)  # more ticks come due while the run goes on: none is queued
    client.patch(detail, json={"enabled": False})

    assert f"collection run {busy_id} was running" in skipped["last_result"]
    assert skipped["last_run_at"] is None and skipped["last_run"] is None
    assert [r["id"] for r in _runs(client, provider["id"])] == [busy_id]
    assert any("skipped" in r.getMessage() for r in caplog.records), caplog.text


def test_a_schedule_missed_while_the_service_was_down_runs_once_at_start(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        provider = create_provider(client)
        # Hourly, half an hour from now: the firing after the missed one is never due
        # within the test (an every-minute one was, when the test crossed a minute).
        minute = (datetime.now(UTC).minute + 30) % 60
        schedule = client.post(
            f"{API}/providers/{provider['id']}/schedules/",
            json={"name": "hourly", "cron_expression": f"{minute} * * * *"},
        ).json()
    # The service stopped; its schedule came due five hours ago, five firings were missed.
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
            session.execute(
                update(CollectionSchedule)
                .where(CollectionSchedule.id == schedule["id"])
                .values(next_run_at=datetime.now(UTC) - timedelta(hours=5))
            )
            session.commit()

        runs = _eventually(
            lambda: _scheduled_runs(client, provider["id"], schedule["id"]), 3, "the missed run"
        )
        wait_for_run(client, runs[0]["id"])
        time.sleep(1.5)

        assert len(_scheduled_runs(client, provider["id"], schedule["id"])) == 1
        after = client.get(f"{API}/providers/{provider['id']}/schedules/{schedule['id']}/").json()
        assert datetime.fromisoformat(after["next_run_at"]) > datetime.now(UTC)


def _at_second(moment: datetime) -> str:
    """A cron expression that fires once a day, at ``moment``'s second (UTC)."""
    return f"{moment.minute} {moment.hour} * * * {moment.second}"


def test_two_service_processes_on_one_postgresql_database_start_each_firing_once(
    postgresql_url: str, environments_dir: Path, tmp_path: Path
) -> None:
    _truncate(postgresql_url)
    env = {
        "ESTATE_DATABASE_URL": postgresql_url,
        "ESTATE_SECRET_KEY": SECRET_KEY,
        "ESTATE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ESTATE_BUILTIN_PLUGINS_DIR": str(REPO / "plugins"),
        "ESTATE_ENVIRONMENTS_DIR": str(environments_dir),
        # Both look very often: they see the same due rows at the same moments.
        "ESTATE_SCHEDULE_INTERVAL": "0.02",
    }
    auth = ("admin", ADMIN_PASSWORD)
    with (
        serving(tmp_path / "one", **env) as one,
        serving(tmp_path / "two", **env) as two,
        httpx.Client(base_url=one.url, auth=auth, timeout=10) as client,
    ):
        schedules = {}
        for n in range(3):
            provider = client.post(
                f"{API}/providers/",
                json={
                    "name": f"dc-{n}",
                    "vendor": "simulated",
                    "provider_type": "datacenter",
                    "connection_config": {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 1},
                },
            ).json()
            schedules[provider["id"]] = None
        fire_at = datetime.now(UTC) + timedelta(seconds=3)
        for provider_id in schedules:
            created = client.post(
                f"{API}/providers/{provider_id}/schedules/",
                json={"name": "once", "cron_expression": _at_second(fire_at)},
            )
            assert created.status_code == 201, created.text
            schedules[provider_id] = created.json()["id"]
        time.sleep(max(0.0, (fire_at - datetime.now(UTC)).total_seconds()) + 3)

        for provider_id, schedule_id in schedules.items():
            runs = _scheduled_runs(client, provider_id, schedule_id)
            assert len(runs) == 1, runs
            run = _eventually(
                lambda r=runs[0]: (
                    (x := client.get(f"{API}/collection-runs/{r['id']}/").json())["status"]
                    in FINISHED
                    and x
                ),
                30,
                "the scheduled run's end",
            )
            assert run["status"] == "completed", run
            schedule = client.get(f"{API}/providers/{provider_id}/schedules/{schedule_id}/")
            # The process that lost the claim did nothing: not even a skip for "busy".
            assert schedule.json()["last_skipped_at"] is None, schedule.json()
        logs = [(s.root / "server.log").read_text() for s in (one, two)]
    started = sum(log.count("started collection run") for log in logs)
    assert started == len(schedules), logs
