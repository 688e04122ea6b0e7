"""Requests that read open no transaction; requests that write still run in one.

On PostgreSQL a transaction costs a ``BEGIN`` and a ``ROLLBACK`` beside a request's
statements; without one, its session closes with no I/O (``db/engine.py``,
``request_sessions.py``). Checked at the driver: whether its connection was inside a
transaction when each of a request's statements ran, for the API and the pages.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from estate.api.app import API_PREFIX
from factories import autocommit, create_provider, log_in, request_statements

API = API_PREFIX


def test_a_read_opens_no_transaction_and_a_write_runs_in_one(client: TestClient) -> None:
    provider = create_provider(client)
    with request_statements(client) as reads:
        assert client.get(f"{API}/resources/", params={"search": "vm"}).status_code == 200
        assert client.get(f"{API}/providers/{provider['id']}/").status_code == 200
        assert client.get(f"{API}/resource-drift/").status_code == 200
    # WITH: a search's probe of the index, read once by its list (PostgreSQL)
    assert {sent.verb for sent in reads} <= {"SELECT", "WITH"}, reads
    assert not any(sent.in_transaction for sent in reads), reads

    with request_statements(client) as writes:
        renamed = client.patch(f"{API}/providers/{provider['id']}/", json={"name": "renamed"})
        assert renamed.status_code == 200, renamed.text
    assert ("UPDATE", True) in {(sent.verb, sent.in_transaction) for sent in writes}, writes


def test_a_page_opens_no_transaction_and_logging_in_runs_in_one(
    client: TestClient, anonymous: TestClient
) -> None:
    provider = create_provider(client)
    with request_statements(client) as login:
        log_in(anonymous)
    # the web session, with the old ones deleted
    assert ("INSERT", True) in {(sent.verb, sent.in_transaction) for sent in login}, login
    with request_statements(client) as reads:
        assert anonymous.get(f"/providers/{provider['id']}").status_code == 200
        assert anonymous.get("/resources").status_code == 200
    assert reads and {sent.verb for sent in reads} == {"SELECT"}
    assert not any(sent.in_transaction for sent in reads), reads


def test_a_write_made_while_reading_is_kept(client: TestClient) -> None:
    """A token's first use is written by the GET that uses it (one statement,
    committed as it runs); the next request sees it."""
    made = client.post(f"{API}/tokens/", json={"name": "reader"})
    assert made.status_code == 201, made.text
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    with request_statements(client) as used:
        assert client.get(f"{API}/users/me/", headers=bearer, auth=None).status_code == 200
    assert ("UPDATE", False) in {(sent.verb, sent.in_transaction) for sent in used}, used
    [listed] = client.get(f"{API}/tokens/").json()["results"]
    assert listed["last_used_at"] is not None


def test_reads_and_writes_draw_on_two_pools_that_never_switch(client: TestClient) -> None:
    """The reads' connections come from a pool of their own, in autocommit for good;
    the writes' pool never is (``db/engine.py``: ``make_read_engine``): no connection
    is switched on its way out of a pool and back."""
    context = client.app.state.context  # type: ignore[attr-defined]
    assert context.read_engine is not context.engine
    create_provider(client)
    for _ in range(2):  # after requests of both kinds have used and returned connections
        assert client.get(f"{API}/resources/").status_code == 200
        assert client.post(f"{API}/tokens/", json={"name": "t"}).status_code == 201
        with context.read_engine.connect() as reading, context.engine.connect() as writing:
            assert autocommit(reading.connection.dbapi_connection)
            assert not autocommit(writing.connection.dbapi_connection)
