"""The resource-type taxonomy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from ... import taxonomy
from ..deps import CurrentUser, one_of
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas import ResourceTypePublic

router = APIRouter(prefix="/resource-types", tags=["resource types"])


def _public(item: taxonomy.ResourceType) -> ResourceTypePublic:
    return ResourceTypePublic(
        slug=item.slug, name=item.name, category=item.category, description=item.description
    )


CATEGORIES = sorted({t.category for t in taxonomy.RESOURCE_TYPES})
CategoryFilter = Annotated[str | None, Query(json_schema_extra={"enum": CATEGORIES})]


@router.get("/")
def list_resource_types(
    request: Request,
    user: CurrentUser,
    category: CategoryFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceTypePublic]:
    one_of("category", category, CATEGORIES)
    items = [_public(t) for t in taxonomy.RESOURCE_TYPES if category in (None, t.category)]
    return page_list(request, items, page, page_size)


@router.get("/{slug}/")
def get_resource_type(slug: str, user: CurrentUser) -> ResourceTypePublic:
    item = taxonomy.get(slug)
    if item is None:
        raise HTTPException(404, detail=f"no resource type {slug!r}")
    return _public(item)
