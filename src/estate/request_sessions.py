"""The database session of a request, for the API's routes and the web UI's pages.

A request that reads (GET, HEAD, OPTIONS) gets a session that opens no transaction
(``Context.reads``, ``db/engine.py``): no ``BEGIN`` and ``ROLLBACK`` round trips on
PostgreSQL, and closing it returns its connection to the pool with nothing to roll
back, no I/O, so it is closed on the event loop, without a hop to a worker thread.
The writes a read makes (a token's ``last_used_at``, a web session's touch) are one
statement each, committed as they run.
Any other request's session keeps its transaction, and is closed in a worker thread:
its rollback is a round trip the event loop must not wait on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from .context import Context

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""The methods that only read (a web form's CSRF check spares them too)."""


async def request_session(request: Request) -> AsyncIterator[Session]:
    """A dependency: the request's session, made here (no I/O) and closed after it."""
    context: Context = request.app.state.context
    if request.method in SAFE_METHODS:
        with context.reads() as session:
            yield session
        return
    session = context.sessions()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)
