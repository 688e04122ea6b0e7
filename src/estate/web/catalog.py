"""The catalog: every plugin with its maturity, the profiles it claims (each with its
conformance badge, the API's SVG embedded from the same origin) and, per plugin, its
actions with their parameters and the latest conformance result of each profile.
The entries are ``registry.catalog.catalog_entry``'s, as the API serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..registry.catalog import catalog_entry, catalog_keys
from .deps import CHECKS, PageError, PageSession, PageVisitor
from .templating import page

router = APIRouter(include_in_schema=False, dependencies=CHECKS)


@router.get("/catalog")
def catalog_list(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    entries = [catalog_entry(session, key) for key in catalog_keys(session)]
    return page(request, "catalog.html", entries=[e for e in entries if e is not None])


@router.get("/catalog/{key}")
def catalog_page(
    request: Request, key: str, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    entry: dict[str, Any] | None = catalog_entry(session, key) if len(key) <= 200 else None
    if entry is None:
        raise PageError(404, f"no plugin is installed with key {key!r}")
    return page(request, "catalog_entry.html", entry=entry)
