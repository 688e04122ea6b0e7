"""The served repository index: ``GET provider-plugins/index/`` of a fresh installation
(the built-in plugins only, each a version whose archive is packed from its folder to
report its sha256 and size), the first request and the p50 of the next ones.

Prints one JSON line. The archive facts of a packed version are cached per
``(version id, path, files_digest)`` in the service process, so only the first request
packs; before that cache every request packed every built-in.

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
            times = []
            for _ in range(args.requests + 1):
                started = time.perf_counter()
                answer = client.get(PATH)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
            versions = sum(len(p["versions"]) for p in answer.json()["plugins"])
    figures = {
        "bench": "index",
        "versions": versions,
        "first_ms": round(times[0], 1),
        "next_ms_p50": round(statistics.median(times[1:]), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
