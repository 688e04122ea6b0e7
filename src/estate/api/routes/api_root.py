"""The API root: each collection's name and URL, as DRF's DefaultRouter root answers.

The UIS's clients start here (``GET /api/inventory/v1/``). The map is made from the
app's own OpenAPI document (every route it serves), so a collection mounted later
appears in it by itself.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request

from ..deps import CurrentUser

router = APIRouter(tags=["root"])

_NOT_COLLECTIONS = frozenset({"ping"})
"""Top-level GET routes that are no collection: ping answers "pong"."""


def collections(request: Request, root: str) -> dict[str, str]:
    """``{name: absolute URL}`` of every top-level GET collection below ``root``."""
    pattern = re.compile(re.escape(root) + r"([a-z][a-z0-9-]*)/")
    base = str(request.base_url).rstrip("/")
    found: dict[str, str] = {}
    for path, operations in request.app.openapi()["paths"].items():
        match = pattern.fullmatch(path)
        if match and "get" in operations and match[1] not in _NOT_COLLECTIONS:
            found[match[1]] = base + path
    return dict(sorted(found.items()))


@router.get("/", summary="API root")
def get_api_root(request: Request, user: CurrentUser) -> dict[str, str]:
    """Every collection of the API and its URL; the credentials of every other call."""
    return collections(request, request.url.path)
