"""The engine and the session factory, tuned per backend."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


PREPARE_AFTER = 2
"""PostgreSQL, the reads' engine: a statement a connection runs this many times is
prepared on the server (psycopg's ``prepare_threshold``)."""
CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"
"""A prepared statement is planned again for each execution's values, as an unprepared
one is: only its parsing is saved, never a generic plan made for no values in
particular (a provider of 90 % of the rows and one of 1 % share no good plan)."""


def make_engine(url: str, *, prepared: bool = False, **options: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.
    ``prepared`` (PostgreSQL): the statements a connection runs again are prepared
    (``PREPARE_AFTER``, ``CUSTOM_PLANS``); ingest's are not, as a plan made while a
    table was small outlived it. ``options``: more of ``create_engine``'s."""
    kwargs: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        **options,
    }
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        kwargs["connect_args"] = _prepared(url) if prepared else {"prepare_threshold": None}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _prepared(url: str) -> dict[str, Any]:
    """psycopg's arguments for statements prepared and planned for each execution's
    values; the URL's own ``options`` (one or several) kept."""
    given = make_url(url).query.get("options", ())
    options = [given] if isinstance(given, str) else list(given)
    return {"prepare_threshold": PREPARE_AFTER, "options": " ".join([*options, CUSTOM_PLANS])}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_engine(engine: Engine) -> Engine:
    """An engine whose connections open no transaction (autocommit), for reads (which
    requests get it, and why: ``request_sessions.py``), with a pool of its own.

    Reads see the same data as in a transaction: at ``READ COMMITTED`` every statement
    takes its own snapshot either way. A write in such a session commits as it runs.
    On SQLite the driver opened no transaction for reads before: only the writes'
    implicit ``BEGIN`` goes.

    Its own pool, not ``engine``'s with the isolation level as an execution option: a
    connection of a shared pool was switched to autocommit when a read took it and back
    when it was returned, and rolled back twice on its way back (the session's and the
    pool's reset), each a call into the driver. Closing a read's session (on the event
    loop) took 5 % of the loop's time; ``bench/api_ab.py``: 0.95 and 0.97 of the
    service's CPU a request (two runs). Here a connection stays in autocommit, and the
    pool does not reset it (nothing to roll back). An in-memory SQLite database, which
    a second engine would not reach, shares ``engine``'s pool as before.

    On PostgreSQL its statements are prepared (``make_engine``'s ``prepared``):
    ``bench/api_ab.py`` measured the database server's CPU a request at 0.87, the
    service's at 0.97."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return make_engine(
        url.render_as_string(hide_password=False),
        prepared=True,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
    )
