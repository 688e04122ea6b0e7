"""CPU per request: the API's hot routes called in-process, one after another.

Throughput under many clients is per-request CPU times processes; wall-clock latency on a
shared machine is noisy, CPU time much less so. This loads N resources as
``bench/api.py`` does (default 20,000: per-request CPU hardly depends on N once counts
and pages come from indexes), starts the app with its lifespan (executor, scheduler,
indexer, supervisor) in this process, and calls each route ``--repeat`` times through
the ASGI interface (httpx's ``ASGITransport``: no sockets, no HTTP parsing), timing the
process's CPU (``time.process_time``) around each query's calls. The access log is
on, as in ``estate serve``, written to a discarded stream.

Prints one JSON line: CPU µs per request for each query (on PostgreSQL also the
local database server's, its processes' CPU around the same calls), the best of
``--rounds`` rounds (the least disturbed). ``--profile PATH`` records one more round
with py-spy (every thread; collapsed stacks), when py-spy is installed.

    python bench/api_cpu.py --resources 20000 --db sqlite
    python bench/api_cpu.py --db postgresql --repeat 200 --profile /tmp/api.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from ingest import database  # bench/ingest.py

from api import (  # bench/api.py, beside this script
    Estate,
    database_server_cpu,
    load,
    queries,
    tokens,
    vacuum,
)
from estate.api.app import create_app
from estate.bootstrap import prepare
from estate.config import Settings
from estate.context import Context
from estate.inventory.search import index_all


async def measure(
    app: Any, token: str, paths: dict[str, list[str]], repeat: int, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Best-of-``rounds`` CPU µs per request of each query: this process's, and this
    host's PostgreSQL server's (its statements; 0 on SQLite, clock ticks of 10 ms)."""
    best: dict[str, float] = {}
    server: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as client:
        for name, rotation in paths.items():
            (await client.get(rotation[0])).raise_for_status()  # warm
            for _ in range(rounds):
                started, served = time.process_time(), database_server_cpu()
                for i in range(repeat):
                    answer = await client.get(rotation[i % len(rotation)])
                    if answer.status_code != 200:
                        raise SystemExit(f"GET {rotation[i % len(rotation)]}: {answer.text}")
                spent = (time.process_time() - started) / repeat * 1e6
                on_server = (database_server_cpu() - served) / repeat * 1e6
                if spent < best.get(name, spent + 1):
                    best[name], server[name] = spent, on_server
    return {name: round(us) for name, us in best.items()}, {
        name: round(us) for name, us in server.items()
    }


async def serve_and_measure(
    settings: Settings, token: str, paths: dict[str, list[str]], args: argparse.Namespace
) -> tuple[dict[str, float], dict[str, float]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(2)  # the indexer's and scheduler's first looks
        figures = await measure(app, token, paths, args.repeat, args.rounds)
        if args.profile:
            # py-spy samples the thread holding the interpreter, whichever it is (the sync
            # routes run in anyio's worker threads): the CPU of Python code
            spy = subprocess.Popen(
                [Path(sys.executable).with_name("py-spy"), "record", "--pid", str(os.getpid()),
                 "--rate", "500", "--format", "raw", "--output", args.profile, "--gil"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1)
            await measure(app, token, paths, args.repeat, 1)
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=100, help="calls per query per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="comma-separated query names")
    parser.add_argument("--profile", help="record one more round with py-spy, to this file")
    parser.add_argument(
        "--keep", help="SQLite: load into this folder once, and reuse it on later runs"
    )
    args = parser.parse_args()
    access = logging.getLogger("estate.access")
    access.addHandler(logging.StreamHandler(Path(os.devnull).open("w")))  # noqa: SIM115
    access.setLevel(logging.INFO)
    access.propagate = False
    with (
        tempfile.TemporaryDirectory(prefix="estate-bench-cpu-") as tmp,
        database(args.db, Path(tmp)) as url,
    ):
        workdir = Path(args.keep) if args.keep else Path(tmp)
        kept = workdir / "estate.json"
        if args.keep and args.db == "sqlite":
            url = f"sqlite:///{workdir / 'bench.db'}"
        settings = Settings(
            data_dir=workdir / "data",
            database_url=url,
            admin_password="bench-password",
            run_timeout=7200,
        )
        if kept.exists():
            saved = json.loads(kept.read_text())
            estate, admin_token = Estate(**saved["estate"]), saved["token"]
        else:
            context = Context.from_settings(settings)
            prepare(context)
            estate, _ = load(context, args.resources)
            index_all(context.engine)
            if args.db == "postgresql":
                vacuum(context)  # statistics as autovacuum leaves them, as bench/api.py does
            admin_token, _ = tokens(context)
            context.close()
            if args.keep:
                kept.write_text(json.dumps({"estate": asdict(estate), "token": admin_token}))
        paths = queries(estate)
        if args.only:
            paths = {q: paths[q] for q in args.only.split(",")}
        figures, on_server = asyncio.run(serve_and_measure(settings, admin_token, paths, args))
    print(
        json.dumps(
            {
                "bench": "api_cpu",
                "db": args.db,
                "resources": estate.resources,
                "repeat": args.repeat,
                "rounds": args.rounds,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "cpu_us_per_request": figures,
                **({"db_server_cpu_us_per_request": on_server} if args.db == "postgresql" else {}),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
