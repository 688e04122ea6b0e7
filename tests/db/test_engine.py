"""The reads' engine (``db/engine.py``: ``make_read_engine``): autocommit for good, in
a pool of its own, except where a second pool would reach another database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from estate.db.engine import make_engine, make_read_engine


def test_a_file_database_gets_a_second_pool_whose_connections_commit_each_statement(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'estate.db'}")
    reads = make_read_engine(engine)
    try:
        assert reads.pool is not engine.pool
        with reads.connect() as reading:
            assert reading.connection.dbapi_connection.isolation_level is None  # type: ignore[union-attr]
            reading.execute(text("CREATE TABLE t (x INTEGER)"))
            reading.execute(text("INSERT INTO t VALUES (1)"))  # no commit: none needed
        with engine.connect() as writing:
            assert writing.connection.dbapi_connection.isolation_level is not None  # type: ignore[union-attr]
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
            assert reading.connection.dbapi_connection.isolation_level is None  # type: ignore[union-attr]
    finally:
        engine.dispose()
