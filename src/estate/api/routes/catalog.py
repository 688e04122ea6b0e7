"""The catalog: every plugin with its profiles, actions and real conformance results."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy.orm import Session

from ...registry.catalog import catalog_entry, catalog_keys
from ...registry.errors import PluginNotFound
from ..badges import badge_svg
from ..deps import CurrentUser, SessionDep
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas_catalog import CatalogEntry

router = APIRouter(prefix="/catalog", tags=["catalog"])

SVG = "image/svg+xml"


def _entry(session: Session, key: str) -> CatalogEntry:
    entry = catalog_entry(session, key)
    if entry is None:
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    return CatalogEntry.model_validate(entry)


@router.get("/")
def list_catalog(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[CatalogEntry]:
    """Every installed plugin, by key: what it claims and how its claims fared."""
    entries = [_entry(session, key) for key in catalog_keys(session)]
    return page_list(request, entries, page, page_size)


@router.get("/{key}/")
def get_catalog_entry(key: str, session: SessionDep, user: CurrentUser) -> CatalogEntry:
    return _entry(session, key)


@router.get(
    "/{key}/badges/{profile}.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}, "description": "The badge"}},
)
def get_badge(key: str, profile: str, session: SessionDep, user: CurrentUser) -> Response:
    """The profile's conformance badge (SVG): pass, partial, fail or not tested."""
    entry = _entry(session, key)
    result = entry.conformance.get(profile)
    if result is None:
        claims = ", ".join(entry.profiles) or "none"
        raise HTTPException(
            404, detail=f"{key} does not claim profile {profile!r} (it claims: {claims})"
        )
    return Response(
        badge_svg(profile, result.status),
        media_type=SVG,
        headers={"Cache-Control": "no-cache"},
    )
