"""API latency at scale: the inventory's read routes on N resources, served for real.

Loads N resources (default 1,000,000) through the real path — two providers of the
simulated datacenter plugin, each collected twice by ``run_collection`` with 1% churn,
so history, drift and the reverse relationship index exist — tags every 200th resource
of the big provider, then starts ``estate serve`` as a child process against that
database and measures, over HTTP with keep-alive:

- under 1 client: each query ``--repeat`` times in a row (after one warm-up call),
  as a system administrator and, for a few, as an ordinary organization member
  (their visibility scope adds a WHERE);
- under ``--clients`` concurrent clients: every query in a shuffled mix while a third
  collection (1% churn) of the big provider runs in the service, until it ends or
  ``--duration`` seconds pass.

Prints one JSON line: p50/p99 per query in milliseconds, pass/fail against the issue's
targets (p99 ≤ 50 ms under 1 client, ≤ 250 ms under load; reported, never asserted),
the collections' durations, and the same-run baselines: ``GET ping/`` (no
authentication; it checks the schema's revision) and ``GET users/me/`` (a token's
authentication and one row: the floor of any authenticated route) through the same
service and client, and the raw SQL of the first page (and of its count) through the
driver on the same database.

    python bench/api.py --resources 200000 --db sqlite
    python bench/api.py --resources 1000000 --db postgresql --clients 20 --duration 120
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from ingest import collect, database  # bench/ingest.py, beside this script
from sqlalchemy import func, select, text

from estate.api.pagination import encode_cursor
from estate.auth.passwords import hash_password, new_token, token_digest
from estate.bootstrap import prepare
from estate.config import Settings
from estate.context import Context
from estate.db.models import (
    ApiToken,
    CollectionRun,
    Membership,
    Organization,
    Provider,
    Resource,
    ResourceBlock,
    ResourceChange,
    User,
)
from estate.inventory.queries import FEW
from estate.inventory.search import index_all, queued
from estate.inventory.tags import add_tags, get_or_create

API = "/api/inventory/v1"
ESTATE = Path(sys.executable).with_name("estate")
TARGET_ONE_MS = 50.0
TARGET_LOAD_MS = 250.0
BIG_SHARE = 0.8  # of the resources, in the big provider (organization 1); the rest in org 2
TAG_EVERY = 200  # every 200th resource of the big provider carries the bench tag
SLOW_MS, SLOW_REPEAT = 1000.0, 5
SETTLE_S = 10.0  # after the first authenticated request, before timing anything
SAMPLES = 30  # distinct resources the detail and history queries rotate over
SPREAD_EVERY = 5.0  # seconds between two looks at the clients' connections per process


@dataclass
class Estate:
    """What the load left behind: ids the queries name."""

    big: int
    small: int
    drift_run: int
    resources: int
    changed: list[int]  # resources with a stored history entry (modified in run 2)
    hosts: list[int]
    networks: list[int]
    deep_cursor: str
    tagged: int


def load(context: Context, total: int) -> tuple[Estate, dict[str, float]]:
    """Two providers collected twice each (1% churn); the tags; the ids to query."""
    big_count = int(total * BIG_SHARE)
    seconds: dict[str, float] = {}
    with context.sessions() as session, session.begin():
        other = Organization(name="bench-other", description="the small provider's")
        session.add(other)
        session.flush()
        ids = []
        for name, count, organization in (
            ("big", big_count, 1),
            ("small", total - big_count, other.id),
        ):
            provider = Provider(
                name=name,
                vendor="simulated",
                provider_type="datacenter",
                organization_id=organization,
                connection_config={"resources": count, "churn_percent": 1},
            )
            session.add(provider)
            session.flush()
            ids.append(provider.id)
    big, small = ids
    for provider_id, name in ((big, "big"), (small, "small")):
        seconds[f"load_{name}_first_s"], _ = collect(context, provider_id, generation=1)
        seconds[f"load_{name}_again_s"], run = collect(context, provider_id, generation=2)
        if provider_id == big:
            drift_run = run.id
    started = time.perf_counter()
    with context.sessions() as session, session.begin():
        tag = get_or_create(session, 1, ("bench", "tagged", "yes"))
        tagged = session.scalars(
            select(Resource.id).where(Resource.provider_id == big).order_by(Resource.id)
        ).all()[::TAG_EVERY]
        for resource_id in tagged:
            add_tags(session, resource_id, [tag])
    seconds["load_tags_s"] = time.perf_counter() - started
    with context.sessions() as session:
        changed = session.scalars(
            select(ResourceChange.resource_id)
            .where(ResourceChange.run_id == drift_run)
            .order_by(ResourceChange.id)
        ).all()
        count = session.scalar(select(func.count()).select_from(Resource)) or 0

        def of_type(slug: str) -> list[int]:
            return list(
                session.scalars(
                    select(Resource.id)
                    .where(Resource.provider_id == big, Resource.resource_type == slug)
                    .order_by(Resource.id)
                    .limit(SAMPLES)
                )
            )

        middle = session.scalar(
            select(Resource.id).order_by(Resource.id).offset(count // 2).limit(1)
        )
        estate = Estate(
            big=big,
            small=small,
            drift_run=drift_run,
            resources=count,
            changed=list(changed[:: max(1, len(changed) // SAMPLES)][:SAMPLES]),
            hosts=of_type("hypervisor_host"),
            networks=of_type("network"),
            deep_cursor=encode_cursor(middle or 0, "n"),
            tagged=len(tagged),
        )
    return estate, seconds


def vacuum(context: Context) -> float:
    """``VACUUM ANALYZE`` on PostgreSQL: what autovacuum does on a production server a
    minute after a bulk load (it sets the visibility map that index-only scans and
    counts rely on). The test server here runs with ``autovacuum = off``."""
    started = time.perf_counter()
    with context.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def progress(message: str) -> None:
    """A line on stderr, so that a run of many minutes says where it is."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def tokens(context: Context) -> tuple[str, str]:
    """Bearer tokens of the system administrator and of a viewer of organization 1."""
    admin_token, member_token = new_token(), new_token()
    ends = datetime.now(UTC) + timedelta(days=1)
    with context.sessions() as session, session.begin():
        admin = session.scalar(select(User).where(User.is_admin.is_(True)))
        assert admin is not None
        member = User(username="bench-member", password_hash=hash_password(secrets.token_hex()))
        session.add(member)
        session.flush()
        session.add(Membership(user_id=member.id, organization_id=1, role="viewer"))
        for user, token in ((admin, admin_token), (member, member_token)):
            session.add(
                ApiToken(
                    user_id=user.id,
                    name="bench",
                    token_hash=token_digest(token),
                    prefix=token[:8],
                    expires_at=ends,
                )
            )
    return admin_token, member_token


def deep_page(estate: Estate) -> int:
    """The deep page of 100 ``deep_page_number`` asks for: the list's middle."""
    return max(1, estate.resources // 200)


def queries(estate: Estate) -> dict[str, list[str]]:
    """Each figure's name and the paths its calls rotate over."""
    r = f"{API}/resources/?page_size=100"
    return {
        "ping": [f"{API}/ping/"],
        "users_me": [f"{API}/users/me/"],
        "list": [r],
        "list_provider": [f"{r}&provider={estate.big}"],
        "list_provider__id": [f"{r}&provider__id={estate.small}"],
        "list_resource_type": [f"{r}&resource_type=hypervisor_host"],
        "list_state": [f"{r}&state=suspended"],
        "list_vendor": [f"{r}&vendor=simulated"],
        "list_os_type": [f"{r}&os_type=windows"],
        "list_tag": [f"{r}&tag=bench/tagged:yes"],
        "list_search": [f"{r}&search=esxi-0042"],
        "list_search_miss": [f"{r}&search=no-such-thing"],
        "list_search_broad": [f"{r}&search=vm-"],
        "deep_page_number": [f"{r}&page={deep_page(estate)}"],
        "deep_cursor": [f"{r}&cursor={estate.deep_cursor}"],
        "detail_vm": [f"{API}/resources/{i}/" for i in estate.changed],
        "detail_host": [f"{API}/resources/{i}/" for i in estate.hosts],
        "detail_network": [f"{API}/resources/{i}/" for i in estate.networks],
        "history": [f"{API}/resources/{i}/history/" for i in estate.changed],
        "drift_run": [f"{API}/resource-drift/?collection_run={estate.drift_run}"],
        "relationships": [f"{API}/resource-relationships/?page_size=100"],
    }


@dataclass
class Loaded:
    """A loaded bench database: what the benches (api.py, ui.py) serve and query."""

    context: Context
    settings: Settings
    workdir: Path
    estate: Estate
    seconds: dict[str, float]
    tokens: tuple[str, str]  # the system administrator's and the member's


@contextmanager
def loaded_estate(
    db: str, resources: int, keep: str | None, vacuumed: bool = True
) -> Iterator[Loaded]:
    """N resources loaded as :func:`load` does, indexed for search (and, on PostgreSQL,
    vacuumed), with the two tokens; the database is dropped on the way out. ``keep``
    (SQLite): load into that folder once and reuse it on later runs."""
    with (
        tempfile.TemporaryDirectory(prefix="estate-bench-") as tmp,
        database(db, Path(tmp)) as url,
    ):
        workdir = Path(keep) if keep and db == "sqlite" else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        kept = workdir / "estate.json"
        settings = Settings(
            data_dir=workdir / "data",
            database_url=f"sqlite:///{workdir / 'bench.db'}" if workdir != Path(tmp) else url,
            admin_password="bench-password",
            run_timeout=7200,
        )
        context = Context.from_settings(settings)
        if kept.exists():
            saved = json.loads(kept.read_text())
            estate, seconds = Estate(**saved["estate"]), saved["seconds"]
            admin_token, member_token = saved["tokens"]
        else:
            prepare(context)
            progress(f"loading {resources} resources into {db}")
            estate, seconds = load(context, resources)
            # Ingest only queues resources for the search index; the service's indexer
            # fills it in the background. Timed here, apart, so that search is measured
            # on the index (not on queued rows) and the indexing cost is a figure.
            started = time.perf_counter()
            index_all(context.engine)
            seconds["load_search_index_s"] = time.perf_counter() - started
            if db == "postgresql" and vacuumed:
                seconds["load_vacuum_analyze_s"] = vacuum(context)
            progress(f"loaded: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
            admin_token, member_token = tokens(context)
            if workdir != Path(tmp):
                kept.write_text(
                    json.dumps(
                        {
                            "estate": asdict(estate),
                            "seconds": seconds,
                            "tokens": [admin_token, member_token],
                        }
                    )
                )
        try:
            yield Loaded(context, settings, workdir, estate, seconds, (admin_token, member_token))
        finally:
            context.close()


BASELINES = ("ping", "users_me")  # the service's floor, not figures of the issue
MEMBER_QUERIES = (
    "list",
    "list_state",
    "list_tag",
    "list_search",
    "deep_page_number",
    "drift_run",
    "relationships",
)


@contextmanager
def serving(
    workdir: Path, settings: Settings, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """``estate serve`` on a free port against the bench's database; killed on the way
    out. ``workers`` > 1: ``estate serve --workers N``; ``extra_env``: more settings
    (``ESTATE_…``) for the service."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update(
        ESTATE_DATA_DIR=str(settings.data_dir),
        ESTATE_DATABASE_URL=settings.database,
        ESTATE_RUN_TIMEOUT="7200",
        ESTATE_ADMIN_PASSWORD="bench-password",
    )
    env.update(extra_env or {})
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ESTATE), "serve", "--port", str(port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"estate serve ended: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}{API}/ping/", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("estate serve did not answer within 120 s")
                time.sleep(0.2)
            yield url, process.pid
        finally:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def process_stat(pid: int | str) -> tuple[str, list[str]] | None:
    """A process's name and the fields of its ``/proc/PID/stat`` after the name (its
    state first, its session at 3, its CPU ticks at 11:13 and its ended children's at
    13:15); None once it has ended."""
    try:
        head, _, rest = Path(f"/proc/{pid}/stat").read_text().rpartition(")")
    except OSError:
        return None
    return head.partition("(")[2], rest.split()


def socket_links(pid: int | str) -> list[str]:
    """The ``socket:[INODE]`` links of a process's open files (OSError once it ended;
    a file closed meanwhile is left out)."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = str(fd.readlink())
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            links.append(link)
    return links


def service_cpu(session: int) -> tuple[float, float]:
    """CPU seconds (user + system, ended children's included) of every process of the
    service's session (the primary, its workers, its plugin processes), and of the
    primary alone."""
    ticks = primary = 0
    for entry in Path("/proc").iterdir():
        stat = process_stat(entry.name) if entry.name.isdigit() else None
        if stat is None:  # not a process, or ended meanwhile
            continue
        fields = stat[1]
        if int(fields[3]) == session:
            spent = sum(int(f) for f in fields[11:15])
            ticks += spent
            primary += spent if int(entry.name) == session else 0
    return ticks / os.sysconf("SC_CLK_TCK"), primary / os.sysconf("SC_CLK_TCK")


def database_server_cpu() -> float:
    """CPU seconds of this host's PostgreSQL server (every ``postgres`` process,
    ended backends included through the postmaster's children's times); 0.0 with no
    local server. The requests' queries and the collections' writes both run there."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        stat = process_stat(entry.name) if entry.name.isdigit() else None
        if stat is not None and stat[0] == "postgres":
            ticks += sum(int(f) for f in stat[1][11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def connections_held(session: int, port: int) -> list[int]:
    """The connections to ``port`` each process of the service's session holds open,
    most first (the kernel's tables, not the service, say which): how the clients are
    spread over ``--workers``."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # held
                inodes.add(f"socket:[{fields[9]}]")
    held = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.getsid(int(entry.name)) != session:
                continue
            links = socket_links(entry.name)
        except OSError:  # ended meanwhile
            continue
        if count := sum(link in inodes for link in links):
            held.append(count)
    return sorted(held, reverse=True)


def requeue(context: Context) -> int:
    """Queue every resource for the search index (the triggers' queue of migration
    0009): the service's indexer then rewrites all their index rows. How many."""
    with context.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO resource_search_queue (resource_id) SELECT id FROM resources "
                "WHERE id NOT IN (SELECT resource_id FROM resource_search_queue)"
            )
        )
    return queued(context.engine)


def settle(url: str, token: str) -> None:
    """Let the service finish what it does on its first authenticated request (the
    token's first use is written; the plugin supervisor's data directory is prepared)
    before anything is timed."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        client.get(f"{API}/users/me/").raise_for_status()
    time.sleep(SETTLE_S)


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least ``q`` of them at or below it."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


def figures(samples: list[float], target: float) -> dict[str, Any]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    p99 = percentile(ordered, 0.99)
    return {
        "p50": round(percentile(ordered, 0.5), 1),
        "p99": round(p99, 1),
        "n": len(ordered),
        "pass": p99 <= target,
    }


def timed_get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    spent = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return spent


def one_client(url: str, token: str, paths: dict[str, list[str]], repeat: int) -> dict[str, Any]:
    """Each query ``repeat`` times in a row after one warm-up call; a query whose
    warm-up took over ``SLOW_MS`` only ``SLOW_REPEAT`` times (it misses the target
    twentyfold either way, and at a million rows 30 calls would take minutes)."""
    out = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        for name, rotation in paths.items():
            calls = repeat if timed_get(client, rotation[0]) < SLOW_MS else min(repeat, SLOW_REPEAT)
            samples = [timed_get(client, rotation[i % len(rotation)]) for i in range(calls)]
            out[name] = figures(samples, TARGET_ONE_MS)
    return out


def raw_first_page(context: Context, estate: Estate, repeat: int) -> dict[str, Any]:
    """The list's first page and its count as raw SQL through the driver: what the
    database alone costs for the same answer. And the ids of the deep page
    (``deep_page_number``) two ways: by an OFFSET over the whole list (what the
    service ran before migration 0022), and as the service finds them now, by the sum
    of ``resource_blocks`` up to the page's block, then an OFFSET within it. And the
    ids of the tag's list (``list_tag``, its count and every page) two ways: looking
    up each tagged resource to keep the living ones (what the service ran before
    migration 0023), and as it reads them now, from the tags' copies alone."""
    alive = "FROM resources WHERE deleted_at IS NULL"
    the_tag = (
        "FROM resource_tags rt JOIN tags t ON t.id = rt.tag_id WHERE t.namespace = 'bench' "
        "AND t.key = 'tagged' AND t.value = 'yes'"
    )
    offset = (deep_page(estate) - 1) * 100
    to_block = (
        "SELECT block, before FROM (SELECT block, here, sum(here) OVER (ORDER BY block) - here "
        "AS before FROM (SELECT block, sum(n) AS here FROM resource_blocks WHERE NOT deleted "
        f"GROUP BY block) b) r WHERE before + here > {offset} ORDER BY block LIMIT 1"
    )

    def by_blocks(conn: Any) -> list[Any]:
        block, before = conn.exec_driver_sql(to_block).one()
        return conn.exec_driver_sql(
            f"SELECT id {alive} AND id >= {block * ResourceBlock.SIZE} ORDER BY id "
            f"LIMIT 100 OFFSET {offset - before}"
        ).fetchall()

    def sql(statement: str) -> Any:
        return lambda conn: conn.exec_driver_sql(statement).fetchall()

    queries = {
        "raw_sql_first_page": sql(f"SELECT * {alive} ORDER BY id LIMIT 101"),
        "raw_sql_count": sql(f"SELECT count(*) {alive}"),
        "raw_sql_deep_offset": sql(f"SELECT id {alive} ORDER BY id LIMIT 100 OFFSET {offset}"),
        "raw_sql_deep_blocks": by_blocks,
        "raw_sql_tag_probe": sql(
            f"SELECT id {alive} AND id IN (SELECT rt.resource_id {the_tag}) ORDER BY id "
            f"LIMIT {FEW + 1}"
        ),
        "raw_sql_tag_copies": sql(
            f"SELECT DISTINCT rt.resource_id {the_tag} AND rt.alive ORDER BY rt.resource_id "
            f"LIMIT {FEW + 1}"
        ),
    }
    out = {}
    with context.engine.connect() as conn:
        assert by_blocks(conn) == queries["raw_sql_deep_offset"](conn)  # the same page
        tagged = queries["raw_sql_tag_copies"](conn)
        assert tagged and tagged == queries["raw_sql_tag_probe"](conn)
        for name, run in queries.items():
            run(conn)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                run(conn)
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = figures(samples, TARGET_ONE_MS)
    return out


async def mix(
    url: str, token: str, paths: dict[str, list[str]], clients: int, until: threading.Event
) -> tuple[dict[str, list[float]], int]:
    """``clients`` concurrent clients, each calling every query in its own shuffled
    order, round after round, until ``until`` is set."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def client(seed: int) -> None:
        nonlocal errors
        order = random.Random(seed)
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=600, limits=limits
        ) as http:
            calls = [(name, path) for name, rotation in paths.items() for path in rotation[:3]]
            while not until.is_set():
                order.shuffle(calls)
                for name, path in calls:
                    if until.is_set():
                        return
                    started = time.perf_counter()
                    answer = await http.get(path)
                    spent = (time.perf_counter() - started) * 1000
                    if answer.status_code == 200:
                        samples[name].append(spent)
                    else:
                        errors += 1

    await asyncio.gather(*(client(seed) for seed in range(clients)))
    return samples, errors


def under_load(
    url: str,
    token: str,
    paths: dict[str, list[str]],
    estate: Estate,
    clients: int,
    duration: float,
    collecting: bool = True,
    service_pid: int | None = None,
    meter: Callable[[], tuple[float, ...]] | None = None,
) -> dict[str, Any]:
    """The mix for ``duration`` seconds while the big provider is collected (1% churn,
    a new generation each time) in the service: one collection after another, started
    through the API, so that one always runs (``collecting`` False: none runs). Every
    ``SPREAD_EVERY`` seconds, how the clients' connections are spread over the service's
    processes (``service_pid``'s session). ``meter`` (CPU seconds counters) is read
    when the mix starts and when it ends, before the last collection is waited for:
    its difference, ``cpu_during_mix``, is what the mix's seconds cost."""
    headers = {"Authorization": f"Bearer {token}"}
    stop = threading.Event()
    done: list[tuple[dict[str, Any], float]] = []
    spread: list[list[int]] = []

    def look_at_spread() -> None:
        port = int(url.rsplit(":", 1)[1])
        while service_pid is not None and not stop.wait(SPREAD_EVERY):
            spread.append(connections_held(service_pid, port))

    with httpx.Client(base_url=url, headers=headers, timeout=600) as admin:
        provider = admin.get(f"{API}/providers/{estate.big}/").json()
        config = provider["connection_config"]

        def collection(generation: int) -> None:
            answer = admin.patch(
                f"{API}/providers/{estate.big}/",
                json={"connection_config": {**config, "generation": generation}},
            )
            if answer.status_code != 200:
                raise SystemExit(f"PATCH provider: {answer.status_code} {answer.text[:300]}")
            started = time.perf_counter()
            answer = admin.post(f"{API}/providers/{estate.big}/collect/")
            if answer.status_code != 202:
                raise SystemExit(f"collect: {answer.status_code} {answer.text[:300]}")
            run_id = answer.json()["id"]
            while True:
                run = admin.get(f"{API}/collection-runs/{run_id}/").json()
                if run["status"] not in ("pending", "running"):
                    done.append((run, time.perf_counter() - started))
                    return
                time.sleep(0.5)

        def collections() -> None:
            generation = 3
            while collecting and not stop.is_set():
                collection(generation)
                generation += 1

        collector = threading.Thread(target=collections)
        collector.start()
        spreader = threading.Thread(target=look_at_spread)
        spreader.start()
        timer = threading.Timer(duration, stop.set)
        timer.start()
        metered = meter() if meter else ()
        started, client_cpu = time.perf_counter(), time.process_time()
        samples, errors = asyncio.run(mix(url, token, paths, clients, stop))
        mixed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu
        metered = tuple(b - a for a, b in zip(metered, meter() if meter else (), strict=True))
        collector.join()
        spreader.join()
    return {
        "queries": {name: figures(s, TARGET_LOAD_MS) for name, s in samples.items()},
        "errors": errors,
        "mix_seconds": round(mixed, 1),
        "requests_per_s": round(sum(len(s) for s in samples.values()) / mixed, 1),
        "client_cores_used": round(client_cpu / mixed, 2),
        "collections": len(done),
        "collection_statuses": sorted({run["status"] for run, _ in done}),
        "collection_seconds": [round(seconds, 1) for _, seconds in done],
        "collection_updated": [run.get("resources_updated") for run, _ in done],
        "connections_held": spread,
        "cpu_during_mix": metered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of the mix")
    parser.add_argument(
        "--no-vacuum", action="store_true", help="PostgreSQL: measure right after the load"
    )
    parser.add_argument("--repeat", type=int, default=30, help="calls per query, 1 client")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes answering: estate serve --workers N"
    )
    parser.add_argument(
        "--keep",
        help="SQLite: load into this folder once and reuse it on later runs (for A/B runs: "
        "each run's collections change 1%% more of the big provider)",
    )
    parser.add_argument(
        "--no-collection",
        action="store_true",
        help="no collection runs during the mix (what the collections cost the requests)",
    )
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="queue every resource for the search index just before the mix: the "
        "service's search indexer works through them meanwhile, as after a first "
        "collection (what indexing costs the requests)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="ESTATE_NAME=VALUE",
        help="a setting for the service (repeatable), e.g. ESTATE_BACKGROUND_NICE=0",
    )
    args = parser.parse_args()
    extra_env = dict(item.partition("=")[::2] for item in args.service_env)
    if any(not key.startswith("ESTATE_") for key in extra_env):
        parser.error("--service-env takes ESTATE_NAME=VALUE")
    load_average = os.getloadavg()[0]
    with loaded_estate(args.db, args.resources, args.keep, not args.no_vacuum) as bench:
        context, settings, estate = bench.context, bench.settings, bench.estate
        seconds = bench.seconds
        admin_token, member_token = bench.tokens
        workdir = bench.workdir
        with serving(workdir, settings, args.workers, extra_env) as (service, service_pid):
            paths = queries(estate)
            settle(service, admin_token)
            progress("serving; 1 client")
            one = one_client(service, admin_token, paths, args.repeat)
            member = one_client(
                service, member_token, {q: paths[q] for q in MEMBER_QUERIES}, args.repeat
            )
            raw = raw_first_page(context, estate, args.repeat)
            progress(f"{args.clients} clients for {args.duration} s, collections running")
            reindexed = requeue(context) if args.reindex else 0
            loaded = under_load(
                service,
                admin_token,
                paths,
                estate,
                args.clients,
                args.duration,
                collecting=not args.no_collection,
                service_pid=service_pid,
                meter=lambda: (*service_cpu(service_pid), database_server_cpu()),
            )
            if args.reindex:  # how far the service's indexer got during the mix
                loaded["search_queue"] = {"at_start": reindexed, "at_end": queued(context.engine)}
            cpu, primary_cpu, server_cpu = loaded.pop("cpu_during_mix")
            requests = loaded["requests_per_s"] * loaded["mix_seconds"]
            loaded["service_cpu_s"] = round(cpu, 1)
            loaded["service_cores_used"] = round(cpu / loaded["mix_seconds"], 2)
            loaded["service_cpu_ms_per_request"] = round(cpu * 1000 / max(1.0, requests), 1)
            if args.db == "postgresql":  # the server's share: queries and collections
                loaded["database_server_cpu_s"] = round(server_cpu, 1)
                loaded["database_server_cores_used"] = round(server_cpu / loaded["mix_seconds"], 2)
            if args.workers > 1:  # the primary answers none: what the workers spent
                loaded["workers_cpu_ms_per_request"] = round(
                    (cpu - primary_cpu) * 1000 / max(1.0, requests), 1
                )
        with context.sessions() as session:
            runs = session.scalar(select(func.count()).select_from(CollectionRun))
    missed_one = sorted(q for q, f in one.items() if q not in BASELINES and not f["pass"])
    missed_member = sorted(q for q, f in member.items() if not f["pass"])
    missed_load = sorted(
        q for q, f in loaded["queries"].items() if q not in BASELINES and not f.get("pass", False)
    )
    print(
        json.dumps(
            {
                "bench": "api",
                "db": args.db,
                "vacuumed": args.db == "postgresql" and not args.no_vacuum,
                "resources": estate.resources,
                "providers": {
                    "big_org1": int(args.resources * BIG_SHARE),
                    "small_org2": args.resources - int(args.resources * BIG_SHARE),
                },
                "tagged": estate.tagged,
                "collection_runs": runs,
                "clients": args.clients,
                "workers": args.workers,
                "service_env": extra_env,
                "collecting": not args.no_collection,
                "reindexed": args.reindex,
                "repeat": args.repeat,
                "load_average_1m_at_start": round(load_average, 2),
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                "targets_ms": {"one_client_p99": TARGET_ONE_MS, "under_load_p99": TARGET_LOAD_MS},
                "load_seconds": {k: round(v, 1) for k, v in seconds.items()},
                "baseline": {**raw, "ping": one["ping"], "users_me": one["users_me"]},
                "one_client_admin": one,
                "one_client_member": member,
                "under_load": loaded,
                "missed_one_client": missed_one,
                "missed_one_client_member": missed_member,
                "missed_under_load": missed_load,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
