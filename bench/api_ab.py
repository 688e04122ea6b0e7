"""Two versions of the service side by side: CPU per request, interleaved.

A change worth 5 % of a request's CPU is below what two runs of ``bench/api.py`` one
after the other can show on a shared host, whose speed drifts by more than that
within minutes. This starts ``estate serve`` twice against one loaded database (as
``bench/api.py`` loads it; default 20,000 resources): the baseline from ``--base``
(a git revision, checked out for the run in a temporary ``git worktree``, or a
``src`` folder) and this checkout,
and calls each query on both in turn, ``--calls`` at a time, ``--rounds`` times,
alternating which goes first. Each side's CPU is read around its own calls: its
process's (``/proc``), and on PostgreSQL its database backends' (the server processes
serving its connections, found by their client ports). The host's drift falls on both
sides alike.

Prints one JSON line: per query, each side's median µs per request (service and
database server) and the ratio new / baseline, and the ratio of the medians' sums.

``--clients N`` (N > 1) measures under concurrency instead: each turn, N clients call
the whole mix (``bench/api.py``'s ``mix``) on one side for ``--seconds``, then on the
other (the first alternating). Per side, the medians over the turns of its requests
per second, p50 and p99 (ms), and its CPU µs per request; and each figure's ratio
new / baseline. No collection runs: both sides share the database.

    python bench/api_ab.py --base HEAD~1 --db postgresql
    python bench/api_ab.py --base /work/base/src --only list,list_tag --calls 100
    python bench/api_ab.py --base HEAD~1 --clients 20 --seconds 15 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text

from api import (  # bench/api.py, beside this script
    API,
    loaded_estate,
    mix,
    percentile,
    process_stat,
    queries,
    serving,
    socket_links,
)


def _process_cpu(pid: int) -> float:
    """CPU seconds of one process (user + system); 0.0 once it ended."""
    stat = process_stat(pid)
    return 0.0 if stat is None else sum(int(f) for f in stat[1][11:13]) / os.sysconf("SC_CLK_TCK")


def _local_ports(pid: int, server_port: int) -> set[int]:
    """The local ports of ``pid``'s TCP connections to ``server_port`` on this host."""
    inodes = {link[8:-1] for link in socket_links(pid)}
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


class Side:
    """One ``estate serve``: its process, client and database backends."""

    def __init__(self, name: str, url: str, pid: int, token: str, context: object) -> None:
        self.name, self.pid, self.context = name, pid, context
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.url = url
        self.service: dict[str, list[float]] = {}
        self.database: dict[str, list[float]] = {}
        self.turns: dict[str, list[float]] = {}  # under --clients

    def backends(self) -> list[int]:
        """The PostgreSQL server processes serving this side's connections."""
        engine = self.context.engine  # type: ignore[attr-defined]
        if engine.dialect.name != "postgresql":
            return []
        ports = _local_ports(self.pid, engine.url.port or 5432)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL")
            ).all()
        return [pid for pid, port in rows if port in ports]

    def call(self, name: str, paths: list[str], calls: int) -> None:
        backends = self.backends()
        served = sum(_process_cpu(b) for b in backends)
        spent = _process_cpu(self.pid)
        for i in range(calls):
            answer = self.client.get(paths[i % len(paths)])
            if answer.status_code != 200:
                raise SystemExit(f"{self.name}: GET {paths[i % len(paths)]}: {answer.text}")
        self.service.setdefault(name, []).append((_process_cpu(self.pid) - spent) / calls * 1e6)
        on_server = sum(_process_cpu(b) for b in backends) - served
        self.database.setdefault(name, []).append(on_server / calls * 1e6)

    def crowd(self, token: str, paths: dict[str, list[str]], clients: int, seconds: float) -> None:
        """``clients`` concurrent clients calling the mix for ``seconds``: this turn's
        requests per second, p50 and p99 and CPU per request, under ``self.turns``."""
        backends = self.backends()
        served = sum(_process_cpu(b) for b in backends)
        spent = _process_cpu(self.pid)
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        started = time.perf_counter()
        timer.start()
        samples, errors = asyncio.run(mix(self.url, token, paths, clients, stop))
        elapsed = time.perf_counter() - started
        if errors:
            raise SystemExit(f"{self.name}: {errors} requests failed under {clients} clients")
        every = sorted(ms for values in samples.values() for ms in values)
        turn = {
            "requests_per_s": len(every) / elapsed,
            "p50_ms": percentile(every, 0.5),
            "p99_ms": percentile(every, 0.99),
            "service_cpu_us": (_process_cpu(self.pid) - spent) / len(every) * 1e6,
            "database_cpu_us": (sum(_process_cpu(b) for b in backends) - served) / len(every) * 1e6,
        }
        for figure, value in turn.items():
            self.turns.setdefault(figure, []).append(value)


@contextmanager
def baseline_source(base: str) -> Iterator[Path]:
    """The baseline's ``src`` folder: ``base`` itself when it is one, else the ``src``
    of revision ``base`` checked out in a temporary worktree (removed afterwards)."""
    folder = Path(base).resolve()
    if (folder / "estate" / "__init__.py").is_file():
        yield folder
        return
    repository = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="estate-bench-base-") as tmp:
        tree = Path(tmp) / "tree"
        added = subprocess.run(
            ["git", "-C", str(repository), "worktree", "add", "--detach", str(tree), base],
            capture_output=True,
            text=True,
        )
        if added.returncode != 0:
            raise SystemExit(f"--base: {base!r} is neither a src folder nor a revision: "
                             f"{added.stderr.strip()}")  # fmt: skip
        try:
            yield tree / "src"
        finally:
            subprocess.run(
                ["git", "-C", str(repository), "worktree", "remove", "--force", str(tree)],
                check=False,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--base", required=True, help="the baseline: a git revision or a src folder"
    )
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--calls", type=int, default=50, help="calls per query per turn")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", help="comma-separated query names")
    parser.add_argument(
        "--clients", type=int, default=1, help="> 1: that many clients at once, the whole mix"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="a turn, under --clients")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be 1 or more and --seconds more than 0")

    with (
        baseline_source(args.base) as base,
        loaded_estate(args.db, args.resources, None) as loaded,
        ExitStack() as stack,
    ):
        paths = queries(loaded.estate)
        if args.only:
            unknown = set(args.only.split(",")) - set(paths)
            if unknown:
                parser.error(f"--only: no such query: {', '.join(sorted(unknown))}")
            paths = {q: paths[q] for q in args.only.split(",")}
        token = loaded.tokens[0]
        sides = []
        for name, path in (("baseline", str(base)), ("new", None)):
            saved = os.environ.get("PYTHONPATH")
            if path:
                os.environ["PYTHONPATH"] = path
            else:
                os.environ.pop("PYTHONPATH", None)
            url, pid = stack.enter_context(serving(loaded.workdir, loaded.settings))
            if saved is not None:
                os.environ["PYTHONPATH"] = saved
            sides.append(Side(name, url, pid, token, loaded.context))
        for side in sides:  # warm: first uses, connections opened
            for rotation in paths.values():
                side.client.get(f"{API}/ping/")
                for path in rotation:
                    side.client.get(path).raise_for_status()
        for turn in range(args.rounds):
            order = sides if turn % 2 == 0 else sides[::-1]
            if args.clients > 1:
                for side in order:
                    side.crowd(token, paths, args.clients, args.seconds)
                continue
            for name, rotation in paths.items():
                for side in order:
                    side.call(name, rotation, args.calls)

    def medians(figures: dict[str, list[float]]) -> dict[str, float]:
        return {name: round(statistics.median(values)) for name, values in figures.items()}

    baseline, new = sides
    out: dict[str, object] = {
        "bench": "api_ab",
        "db": args.db,
        "resources": args.resources,
        "calls": args.calls,
        "rounds": args.rounds,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.clients > 1:
        out.update(clients=args.clients, seconds=args.seconds)
        for figure, values in baseline.turns.items():
            before, after = statistics.median(values), statistics.median(new.turns[figure])
            out[figure] = {
                "baseline": round(before, 1),
                "new": round(after, 1),
                "ratio": round(after / before, 3) if before else None,
            }
        print(json.dumps(out), flush=True)
        return 0
    for part in ("service", "database"):
        before, after = medians(getattr(baseline, part)), medians(getattr(new, part))
        out[f"{part}_cpu_us"] = {
            name: {
                "baseline": before[name],
                "new": after[name],
                "ratio": round(after[name] / before[name], 3) if before[name] else None,
            }
            for name in before
        }
        total = sum(before.values())
        out[f"{part}_ratio_of_sums"] = round(sum(after.values()) / total, 3) if total else None
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
