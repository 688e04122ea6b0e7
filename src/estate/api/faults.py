"""Faults of the machine, not of the request: the database or the disk failing.

Each is answered with a JSON problem that says what is wrong and what to do, never
the SQL statement or its parameters (they may hold what a user stored); the detail
goes to the service log, once per request.

- the database refused or could not be reached → 503
- the disk is full → 507
- anything else unexpected → 500, ``{"detail": "internal error; …"}``
"""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})

_REASONS = (
    (
        ("database or disk is full", "no space left", "could not extend file", "disk full"),
        "its disk is full",
        "free space where the database lives",
    ),
    (
        ("readonly database", "read-only", "read only", "permission denied", "disk i/o error"),
        "it refuses writes",
        "make the database files and their folder writable by the service",
    ),
    (
        ("no such table", "undefinedtable", "relation", "no such column", "undefinedcolumn"),
        "its schema is missing or not migrated",
        "run `estate db upgrade`, or restart the service, which migrates at start",
    ),
    (
        ("does not exist", "unable to open", "not a database", "malformed"),
        "the database is missing or damaged",
        "check ESTATE_DATABASE_URL and that the database exists",
    ),
)
_UNREACHABLE = (
    "it cannot be reached or closed the connection",
    "check that the database server is running and reachable (ESTATE_DATABASE_URL)",
)


def database_problem(exc: DBAPIError) -> str:
    """A sentence for a user: what is wrong with the database and what to do."""
    text = f"{type(exc.orig).__name__} {exc.orig}".lower()
    reason, advice = _UNREACHABLE
    for needles, because, todo in _REASONS:
        if any(needle in text for needle in needles):
            reason, advice = because, todo
            break
    return f"the database is unavailable: {reason}; {advice}, then try again"


def disk_full_problem(exc: OSError) -> str:
    """A sentence for a user about a full disk (``exc.errno`` in ``DISK_FULL``)."""
    return (
        f"the disk is full ({exc.strerror}); nothing was changed: "
        "free space in the data directory and try again"
    )


def install(app: FastAPI) -> None:
    """Answer the faults above with JSON problems instead of a plain-text 500."""

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        detail = database_problem(exc)
        logger.error("%s %s: %s", request.method, request.url.path, detail, exc_info=exc)
        return JSONResponse({"detail": detail}, status_code=503)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in DISK_FULL:
            logger.error("%s %s: disk full", request.method, request.url.path, exc_info=exc)
            return JSONResponse({"detail": disk_full_problem(exc)}, status_code=507)
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _internal()

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises it after this answer and the server logs it then; only
        # the body changes, from plain text to a JSON problem.
        return _internal()


def _internal() -> JSONResponse:
    return JSONResponse(
        {"detail": "internal error; the service log has the detail"}, status_code=500
    )
