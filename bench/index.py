"""The served repository index: ``GET provider-plugins/index/`` of a fresh installation
(the built-in plugins only, each a version whose archive is packed from its folder to
report its sha256 and size), the first request and the p50 of the next ones.

Prints one JSON line. The archive facts of a packed version are cached per
``(version id, path, files_digest)`` in the service process, so only the first request
packs; before that cache every request packed every built-in. The baseline, in the same
run: the same requests with that cache emptied before each (``uncached_ms_p50``).
The built-ins' environments are prepared first (``ready`` waited for), so every one is
in the index.

    python bench/index.py --requests 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from estate.api.app import create_app
from estate.config import Settings
from estate.registry import index

PATH = "/api/inventory/v1/provider-plugins/index/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests after the first")
    parser.add_argument("--environments", type=Path, help="plugin environments to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="estate-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data",
            environments_dir=args.environments or root / "environments",
            admin_password="bench-password",
        )
        with TestClient(create_app(settings)) as client:
            client.auth = ("admin", "bench-password")
            _wait_ready(client)
            times, uncached = [], []
            for n in range(2 * args.requests + 1):
                if n % 2 == 0 and n:
                    index._packed.clear()  # the baseline: every request packs again
                started = time.perf_counter()
                answer = client.get(PATH)
                elapsed = (time.perf_counter() - started) * 1000
                (uncached if n % 2 == 0 and n else times).append(elapsed)
                assert answer.status_code == 200, answer.text
            versions = sum(len(p["versions"]) for p in answer.json()["plugins"])
    figures = {
        "bench": "index",
        "versions": versions,
        "first_ms": round(times[0], 1),
        "next_ms_p50": round(statistics.median(times[1:]), 1),
        "uncached_ms_p50": round(statistics.median(uncached), 1),
        "cached_over_uncached": round(
            statistics.median(times[1:]) / statistics.median(uncached), 3
        ),
    }
    print(json.dumps(figures))


def _wait_ready(client: TestClient, timeout: float = 600.0) -> None:
    """Until no built-in version is still preparing its environment."""
    deadline = time.monotonic() + timeout
    while True:
        plugins = client.get("/api/inventory/v1/provider-plugins/?page_size=100").json()["results"]
        states = {p["state"] for p in plugins} | {
            v["state"] for p in plugins for v in p.get("versions") or []
        }
        if "preparing" not in states:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"built-ins still preparing after {timeout:g}s")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
