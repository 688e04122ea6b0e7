"""A collection waits between its batches while the service answers requests
(``ESTATE_BACKGROUND_YIELD``, runtime/demand.py), through the service on both
databases: the run's log line says how long it waited, and it waits not at all when
the setting is 0. How requests are counted is tested in test_admission.py, the pause
in runtime/test_demand.py, the ingest writer's calls in inventory/test_ingest.py."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import API, create_provider, start_run

RESOURCES = 1000
BATCH = 2  # 500 transactions: waits of 10 times their time pass a second on any host


def collect_while_busy(settings: Settings, ratio: float) -> dict:
    """One collection of ``RESOURCES`` in batches of ``BATCH`` while the service counts
    a request in progress all along (as a worker does while it answers one): the run."""
    changed = settings.model_copy(update={"background_yield": ratio, "batch_size": BATCH})
    with TestClient(create_app(changed)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        demand = client.app.state.context.demand
        provider = create_provider(
            client, connection_config={"password": "simulated", "resources": RESOURCES}
        )
        demand.arrived(0)
        try:
            run = start_run(client, provider["id"])
            deadline = time.monotonic() + 120
            while run["status"] in ("pending", "running"):
                assert time.monotonic() < deadline, run
                time.sleep(0.2)
                run = client.get(f"{API}/collection-runs/{run['id']}/").json()
        finally:
            demand.answered(0)
        return run


def test_a_collection_waits_between_batches_while_requests_are_answered(
    settings: Settings,
) -> None:
    run = collect_while_busy(settings, ratio=10.0)
    assert run["status"] == "completed", run
    assert run["resources_created"] == RESOURCES
    [line] = [line for line in run["log"].splitlines() if "between batches" in line]
    waited = float(line.split("waited ", 1)[1].split(" s", 1)[0])
    assert waited >= 1.0, line
    assert "while the service answered requests (ESTATE_BACKGROUND_YIELD)" in line


def test_a_collection_never_waits_when_the_setting_is_zero(settings: Settings) -> None:
    run = collect_while_busy(settings, ratio=0.0)
    assert run["status"] == "completed", run
    assert run["resources_created"] == RESOURCES
    assert "between batches" not in run["log"]
