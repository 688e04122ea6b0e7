"""Action round trip on the simulated datacenter: request → plugin → refreshed inventory.

Prints one JSON line. The real service (ASGI app, local executor, SQLite) runs the
simulated datacenter plugin in its child processes; each round trip is
``POST resources/{id}/actions/power_off|power_on/`` until the action run is
``completed``, which includes the targeted refresh (a collection of the VMs only).
The baseline, measured in the same run on the same provider, is a full collection
(``POST providers/{id}/collect/`` until it ends): what a refresh would cost without
targeting.

    python bench/actions.py --round-trips 20 --vms-per-host 50
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from estate.api.app import create_app
from estate.config import Settings

REPO = Path(__file__).resolve().parents[1]
API = "/api/inventory/v1"


def _wait(client: TestClient, path: str) -> dict[str, Any]:
    while True:
        run: dict[str, Any] = client.get(path).json()
        if run["status"] in ("completed", "partial", "failed", "canceled"):
            return run
        time.sleep(0.005)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=20)
    parser.add_argument("--vms-per-host", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plugins = root / "plugins" / "simulated"
        shutil.copytree(REPO / "plugins" / "simulated", plugins)
        settings = Settings(
            data_dir=root / "data",
            admin_password="bench-password",
            builtin_plugins_dir=plugins.parent,
        )
        with TestClient(create_app(settings)) as client:
            client.auth = ("admin", "bench-password")
            config = {"clusters": 2, "hosts_per_cluster": 4, "vms_per_host": args.vms_per_host}
            provider = client.post(
                f"{API}/providers/",
                json={"name": "bench", "vendor": "simulated", "provider_type": "datacenter",
                      "organization": 1, "connection_config": config},
            ).json()  # fmt: skip
            full_ms, trip_ms, refresh_s = [], [], []
            collect = f"{API}/providers/{provider['id']}/collect/"
            first = _wait(client, f"{API}/collection-runs/{client.post(collect).json()['id']}/")
            vms = client.get(f"{API}/resources/", params={"resource_type": "virtual_machine"})
            vm = next(r for r in vms.json()["results"] if r["state"] == "running")
            for i in range(args.round_trips):  # interleaved: load bursts hit both
                name = "power_off" if i % 2 == 0 else "power_on"
                started = time.perf_counter()
                run_id = client.post(f"{API}/resources/{vm['id']}/actions/{name}/").json()["id"]
                run = _wait(client, f"{API}/action-runs/{run_id}/")
                trip_ms.append((time.perf_counter() - started) * 1000)
                assert run["status"] == "completed", run
                refresh = client.get(f"{API}/collection-runs/{run['refresh_run']}/").json()
                refresh_s.append(refresh["duration_seconds"])
                started = time.perf_counter()
                full = _wait(client, f"{API}/collection-runs/{client.post(collect).json()['id']}/")
                full_ms.append((time.perf_counter() - started) * 1000)
                assert full["status"] == "completed", full
    print(
        json.dumps(
            {
                "bench": "actions",
                "resources": first["resources_found"],
                "round_trips": args.round_trips,
                "round_trip_ms_p50": round(statistics.median(trip_ms), 1),
                "round_trip_ms_p99": round(_percentile(trip_ms, 0.99), 1),
                "targeted_refresh_ms_p50": round(statistics.median(refresh_s) * 1000, 1),
                "baseline_full_collection_ms_p50": round(statistics.median(full_ms), 1),
                "baseline_full_collection_ms_p99": round(_percentile(full_ms, 0.99), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
