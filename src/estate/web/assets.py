"""The UI's assets and how they travel: versioned URLs cached for good, pages compressed.

Every asset URL a page names carries the assets' version (``/static/web/estate.css?v=…``,
a hash of every file in ``static/``, computed once at start-up): a browser keeps such a
file for a year without asking again (``immutable``), and a new release's pages name
new URLs. A URL without the current version (an old page, a hand-typed one) is answered
``no-cache``: the browser revalidates with the ETag that StaticFiles sends (304).

Pages and assets are gzip-compressed when the browser accepts it; the API's JSON is
not (its clients are scripts on the same network, and compressing costs CPU per
request: bench/api_cpu.py) and neither are event streams (each event must leave at
once: GZipMiddleware never compresses ``text/event-stream``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
PREFIX = "/static/web"
IMMUTABLE = "public, max-age=31536000, immutable"
UNCOMPRESSED = ("/api/", "/live/")  # JSON for scripts; event streams


def _version(folder: Path) -> str:
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


VERSION = _version(STATIC)


def asset_url(name: str) -> str:
    """The URL a page names for the asset ``name`` (a template global)."""
    return f"{PREFIX}/{name}?v={VERSION}"


class Assets(StaticFiles):
    """StaticFiles that says how long a browser may keep what it sends."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = f"v={VERSION}".encode() in scope.get("query_string", b"").split(b"&")
        response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
        return response


class CompressPages:
    """ASGI middleware: gzip for pages and assets, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(UNCOMPRESSED):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
