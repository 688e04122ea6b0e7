"""The access log: one line per request through the ``estate.access`` logger, at INFO.

``GET /api/inventory/v1/resources/?state=running 200 12.3 ms user=admin client=127.0.0.1``

The path is logged as the client sent it (percent-encoded, so a line stays one line),
with the value of any query parameter whose name speaks of a secret masked. The user
is the one :func:`~estate.api.deps.get_current_user` authenticated, or the web UI's
session user (``web/deps.py``), ``-`` if none.
Each record also carries its fields as attributes (``method``, ``path``, ``status``,
``duration_ms``, ``user``, ``client``) for a structured formatter.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import ACCESS_USER
from ..redaction import MASK

logger = logging.getLogger("estate.access")

USER_KEY = ACCESS_USER
"""Where in the request's state the authenticated user's name is left."""

_SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential", "auth")


class AccessLog:
    """ASGI middleware: log each HTTP request once its answer has been sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # the request's state: where the user name is left
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            _log(scope, status, (time.perf_counter() - started) * 1000)


def client_of(scope: Scope) -> str:
    """The client's address, ``-`` when the server does not know it."""
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _log(scope: Scope, status: int, duration_ms: float) -> None:
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": _path(scope),
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "user": scope["state"].get(USER_KEY) or "-",
        "client": client_of(scope),
    }
    logger.info(
        "%s %s %d %.1f ms user=%s client=%s",
        *(fields[k] for k in ("method", "path", "status", "duration_ms", "user", "client")),
        extra=fields,
    )


def _path(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{_masked(query)}" if query else path


def _masked(query: str) -> str:
    """The query string with the value of each secret-sounding parameter masked."""
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if equals and any(word in name.lower() for word in _SECRET_WORDS):
            part = f"{name}={MASK}"
        parts.append(part)
    return "&".join(parts)
