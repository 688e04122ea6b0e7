"""The reads' engine (``db/engine.py``: ``make_read_engine``): autocommit for good, in
a pool of its own, except where a second pool would reach another database; on
PostgreSQL its statements prepared and planned for each execution's values."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text

from estate.db.engine import PREPARE_AFTER, make_engine, make_read_engine
from factories import autocommit


def test_a_file_database_gets_a_second_pool_whose_connections_commit_each_statement(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'estate.db'}")
    reads = make_read_engine(engine)
    try:
        assert reads.pool is not engine.pool
        with reads.connect() as reading:
            assert autocommit(reading.connection.dbapi_connection)
            reading.execute(text("CREATE TABLE t (x INTEGER)"))
            reading.execute(text("INSERT INTO t VALUES (1)"))  # no commit: none needed
        with engine.connect() as writing:
            assert not autocommit(writing.connection.dbapi_connection)
            assert writing.scalar(text("SELECT x FROM t")) == 1
    finally:
        reads.dispose()
        engine.dispose()


def test_an_in_memory_database_is_read_through_the_writes_pool() -> None:
    """A second engine of ``sqlite://`` would open another, empty, database."""
    engine = make_engine("sqlite://")
    reads = make_read_engine(engine)
    try:
        assert reads.pool is engine.pool
        with engine.begin() as writing:
            writing.execute(text("CREATE TABLE t (x INTEGER)"))
            writing.execute(text("INSERT INTO t VALUES (2)"))
        with reads.connect() as reading:
            assert reading.scalar(text("SELECT x FROM t")) == 2
            assert autocommit(reading.connection.dbapi_connection)
    finally:
        engine.dispose()


_MINE = "SELECT count(*) FROM resources WHERE provider_id = :provider"


def _prepared(connection: Connection) -> int:
    """How many statements like ``_MINE`` the connection has prepared on the server."""
    found = connection.scalar(
        text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :like"),
        {"like": "%FROM resources WHERE provider_id = $1%"},
    )
    return int(found or 0)


def test_on_postgresql_only_the_reads_statements_are_prepared_and_each_plan_is_custom(
    postgresql_url: str,
) -> None:
    engine = make_engine(postgresql_url)
    reads = make_read_engine(engine)
    try:
        for pool, prepared, mode in ((reads, 1, "force_custom_plan"), (engine, 0, "auto")):
            with pool.connect() as connection:
                for provider in range(PREPARE_AFTER + 1):
                    connection.scalar(text(_MINE), {"provider": provider})
                assert _prepared(connection) == prepared
                assert connection.scalar(text("SHOW plan_cache_mode")) == mode
    finally:
        reads.dispose()
        engine.dispose()


def test_the_reads_engine_keeps_the_options_the_database_url_gives(postgresql_url: str) -> None:
    engine = make_engine(f"{postgresql_url}?options=-c%20statement_timeout%3D4321")
    reads = make_read_engine(engine)
    try:
        for pool in (reads, engine):
            with pool.connect() as connection:
                assert connection.scalar(text("SHOW statement_timeout")) == "4321ms"
        with reads.connect() as connection:
            assert connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    finally:
        reads.dispose()
        engine.dispose()
