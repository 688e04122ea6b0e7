"""Request body limits: size (413) and JSON nesting (400), before any route reads a byte.

An ASGI middleware. A body over ``ESTATE_MAX_BODY_BYTES`` is refused by its
Content-Length at once, and a streamed (chunked) one as soon as the bytes read pass
the limit. The plugin upload has its own limit (``ESTATE_MAX_UPLOAD_BYTES``; the
multipart wrapping gets a little room on top); a plugin's own API routes are left to
their route, which bounds and forwards the bytes as they are (10 MB). A JSON body is read whole (it is within
the limit) and refused when it nests deeper than ``MAX_DEPTH`` levels: parsers and
encoders recurse once per level, and a deep enough document would fail as a 500.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..db.storable import MAX_DEPTH, too_deep

UPLOAD_PATH_SUFFIX = "/provider-plugins/upload/"
PLUGIN_API_PATH = "/plugin-apis/"
MULTIPART_ROOM = 1024 * 1024
"""What a multipart upload may add to the archive's bytes (boundaries, headers)."""


def megabytes(limit: int) -> str:
    """``4 MB`` for a limit in bytes (or ``1500 bytes`` when under a megabyte)."""
    mb = limit / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{limit} bytes"


class BodyTooLarge(Exception):
    """The body went over the limit while it was read."""


class BodyLimits:
    """ASGI middleware: refuse over-large bodies (413) and deeply nested JSON (400)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        upload, body = settings.max_upload_bytes, settings.max_body_bytes
        # (limit, what a refusal says): made once, read per request.
        self._upload = (
            upload + MULTIPART_ROOM,
            f"request body over the {megabytes(upload)} limit (ESTATE_MAX_UPLOAD_BYTES)",
        )
        self._body = (
            body,
            f"request body over the {megabytes(body)} limit (ESTATE_MAX_BODY_BYTES)",
        )

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if scope["method"] == "POST" and scope["path"].endswith(UPLOAD_PATH_SUFFIX):
            return self._upload
        return self._body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or PLUGIN_API_PATH in scope["path"]:
            await self.app(scope, receive, send)
            return
        limit, detail = self._limit(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, detail)
            return
        if _is_json(headers.get(b"content-type")) and scope["method"] != "GET":
            await self._json(scope, receive, send, limit, detail)
            return
        await self._streamed(scope, receive, send, limit, detail)

    async def _streamed(
        self, scope: Scope, receive: Receive, send: Send, limit: int, detail: str
    ) -> None:
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answered here: the route may catch the error raised below (FastAPI
                    # turns any failure to read a body into a 400); what it sends after
                    # is dropped.
                    refused = True
                    await _answer(send, 413, detail)
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not refused:  # pragma: no cover - raised only after answering
                raise

    async def _json(
        self, scope: Scope, receive: Receive, send: Send, limit: int, detail: str
    ) -> None:
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _answer(send, 413, detail)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if too_deep(body):
            await _answer(
                send, 400, f"request body nested deeper than the {MAX_DEPTH} levels allowed"
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _is_json(content_type: bytes | None) -> bool:
    """Whether FastAPI reads the body as JSON: no content type, or ``application/*json``."""
    if not content_type:
        return True
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
