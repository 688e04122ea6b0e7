"""Ingest throughput through the real path: plugin child process → wire → ingest → DB.

Prints one JSON line: the first collection of N resources from the simulated plugin,
a re-collection with 1% changed (on PostgreSQL with the WAL it wrote, from a
checkpoint), and two baselines measured in the same run: the raw
``executemany`` insert rate of the very same rows into a table of the same shape, and
the rate of the plugin alone (its child streaming the same resources to a host that
only counts them). No ingest of this plugin into this database can beat either.

    python bench/ingest.py --resources 100000 --db sqlite
    python bench/ingest.py --resources 1000000 --db postgresql
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import MetaData

from estate.bootstrap import prepare
from estate.config import Settings
from estate.context import Context
from estate.db.models import Base, CollectionRun, Provider, Resource
from estate.inventory.statements import INSERT_COLUMNS as _INSERT_COLUMNS
from estate.jobs.collect import run_collection
from runtime import out_of_process  # bench/runtime.py, beside this script

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"estate_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def collect(context: Context, provider_id: int, generation: int) -> tuple[float, CollectionRun]:
    with context.sessions() as session, session.begin():
        provider = session.get(Provider, provider_id)
        assert provider is not None
        provider.connection_config = {**provider.connection_config, "generation": generation}
        run = CollectionRun(provider_id=provider_id, plugin_key=provider.key)
        session.add(run)
        session.flush()
        run_id = run.id
    started = time.perf_counter()
    run_collection(context, run_id)
    seconds = time.perf_counter() - started
    with context.sessions() as session:
        done = session.get(CollectionRun, run_id)
        assert done is not None
    if done.status != "completed":
        raise SystemExit(f"run {run_id} ended {done.status}: {done.error_message}")
    return seconds, done


def wal_position(context: Context) -> str | None:
    """PostgreSQL: a checkpoint (so that every run measured starts after one, as the
    first write of each page after a checkpoint logs the whole page), then the WAL's
    position; None on SQLite."""
    if context.engine.dialect.name != "postgresql":
        return None
    with context.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
        return str(conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar_one())


def wal_written_mb(context: Context, since: str | None) -> float | None:
    """The MB of WAL the database server wrote since ``since`` (its whole server's)."""
    if since is None:
        return None
    with context.engine.connect() as conn:
        written = conn.exec_driver_sql(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (since,)
        ).scalar_one()
    return round(float(written) / 2**20, 1)


def raw_insert_seconds(context: Context, provider_id: int) -> float:
    """Copy the provider's rows with plain executemany into a table of the same shape
    (same columns, indexes and foreign key), timing only the inserts."""
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name != "resources":
            table.to_metadata(metadata)
    copy = Resource.__table__.to_metadata(metadata, name="resources_raw")
    for index in copy.indexes:
        index.name = f"raw_{index.name}"
    for constraint in copy.constraints:
        if constraint.name:
            constraint.name = f"raw_{constraint.name}"
    metadata.create_all(context.engine, tables=[copy])
    placeholder = "%s" if context.engine.dialect.name == "postgresql" else "?"
    columns = ", ".join(_INSERT_COLUMNS)
    insert = f"INSERT INTO resources_raw ({columns}) VALUES ({', '.join([placeholder] * len(_INSERT_COLUMNS))})"
    select = f"SELECT {columns} FROM resources WHERE provider_id = {provider_id} ORDER BY id"
    spent = 0.0
    with context.engine.connect() as reader:
        result = reader.exec_driver_sql(select)
        while chunk := result.fetchmany(1000):
            rows = [tuple(_as_text(v) for v in row) for row in chunk]
            with context.engine.begin() as writer:
                started = time.perf_counter()
                writer.exec_driver_sql(insert, rows)
                spent += time.perf_counter() - started
    return spent


def _as_text(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--skip-baseline", action="store_true", help="for memory runs")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="estate-bench-") as tmp,
        database(args.db, Path(tmp)) as url,
    ):
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            admin_password="bench-password",
            run_timeout=7200,
        )
        context = Context.from_settings(settings)
        prepare(context)
        with context.sessions() as session, session.begin():
            provider = Provider(
                name="bench",
                vendor="simulated",
                provider_type="datacenter",
                organization_id=1,
                connection_config={"resources": args.resources, "churn_percent": 1},
            )
            session.add(provider)
            session.flush()
            provider_id = provider.id
        first, run1 = collect(context, provider_id, generation=1)
        wal_at = wal_position(context)
        again, run2 = collect(context, provider_id, generation=2)
        wal_mb = wal_written_mb(context, wal_at)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        raw = None if args.skip_baseline else raw_insert_seconds(context, provider_id)
        alone = None if args.skip_baseline else out_of_process(args.resources, validate=False)
        context.close()
    figures = {
        "bench": "ingest",
        "db": args.db,
        "resources": run1.resources_found,
        "seconds": round(first, 3),
        "resources_per_s": round(run1.resources_found / first),
        "raw_executemany_seconds": round(raw, 3) if raw else None,
        "raw_executemany_per_s": round(run1.resources_found / raw) if raw else None,
        "ratio_to_raw": round(raw / first, 3) if raw else None,
        "plugin_alone_per_s": round(args.resources / alone.seconds) if alone else None,
        "plugin_alone_cpu_us_per_resource": (
            round(alone.child_cpu / args.resources * 1e6, 2) if alone else None
        ),
        "recollect_seconds": round(again, 3),
        "recollect_changed": run2.resources_updated,
        "recollect_unchanged": run2.resources_unchanged,
        "recollect_to_first_ratio": round(again / first, 3),
        "recollect_wal_mb": wal_mb,
        "peak_rss_mb": round(rss_mb, 1),
        "plugin_peak_rss_mb": round(child_rss_mb, 1),
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    sys.exit(main())
