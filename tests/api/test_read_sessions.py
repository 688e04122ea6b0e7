"""Requests that read open no transaction; requests that write still run in one.

On PostgreSQL a transaction costs a ``BEGIN`` and a ``ROLLBACK`` beside a request's
statements; without one, its session closes with no I/O (``db/engine.py``,
``request_sessions.py``). Checked at the driver: whether its connection was inside a
transaction when each of a request's statements ran, for the API and the pages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from estate.api.app import API_PREFIX
from factories import create_provider, log_in

API = API_PREFIX


def _in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver's connection is inside a transaction (psycopg or sqlite3)."""
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        return info.transaction_status.name != "IDLE"
    return bool(dbapi_connection.in_transaction)


@contextmanager
def _transactions(client: TestClient) -> Iterator[list[tuple[str, bool]]]:
    """``(statement's first word, in a transaction after it ran)`` for every statement
    the requests send meanwhile (the service's own ``estate-…`` threads left out)."""
    engine = client.app.state.context.engine  # type: ignore[attr-defined]
    seen: list[tuple[str, bool]] = []

    def after(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not threading.current_thread().name.startswith("estate-"):
            dbapi = connection.connection.dbapi_connection
            seen.append((statement.split(None, 1)[0].upper(), _in_transaction(dbapi)))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_a_read_opens_no_transaction_and_a_write_runs_in_one(client: TestClient) -> None:
    provider = create_provider(client)
    with _transactions(client) as reads:
        assert client.get(f"{API}/resources/", params={"search": "vm"}).status_code == 200
        assert client.get(f"{API}/providers/{provider['id']}/").status_code == 200
        assert client.head(f"{API}/providers/").status_code in (200, 405)
    assert {word for word, _ in reads} == {"SELECT"}
    assert not any(open_ for _, open_ in reads), reads

    with _transactions(client) as writes:
        renamed = client.patch(f"{API}/providers/{provider['id']}/", json={"name": "renamed"})
        assert renamed.status_code == 200, renamed.text
    assert ("UPDATE", True) in writes, writes


def test_a_page_opens_no_transaction_and_logging_in_runs_in_one(
    client: TestClient, anonymous: TestClient
) -> None:
    provider = create_provider(client)
    with _transactions(client) as login:
        log_in(anonymous)
    assert ("INSERT", True) in login, login  # the web session, with the old ones deleted
    with _transactions(client) as reads:
        assert anonymous.get(f"/providers/{provider['id']}").status_code == 200
        assert anonymous.get("/resources").status_code == 200
    assert reads and {word for word, _ in reads} == {"SELECT"}
    assert not any(open_ for _, open_ in reads), reads


def test_a_write_made_while_reading_is_kept(client: TestClient) -> None:
    """A token's first use is written by the GET that uses it (one statement,
    committed as it runs); the next request sees it."""
    made = client.post(f"{API}/tokens/", json={"name": "reader"})
    assert made.status_code == 201, made.text
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    with _transactions(client) as used:
        assert client.get(f"{API}/users/me/", headers=bearer, auth=None).status_code == 200
    assert ("UPDATE", False) in used, used
    [listed] = client.get(f"{API}/tokens/").json()["results"]
    assert listed["last_used_at"] is not None
