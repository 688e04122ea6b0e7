"""The resource-type taxonomy: categories and resource types (reference data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from ... import taxonomy
from ..deps import CurrentUser
from ..list_pages import matches, ordered
from ..pagination import MAX_PAGE_SIZE, Page, PageNumber, PageSize, page_list
from ..schemas import ResourceTypePublic
from ..taxonomy_schemas import ResourceCategoryPublic

router = APIRouter(tags=["resource types"])

_CATEGORY_KEYS = [*taxonomy.categories(), *taxonomy.CATEGORY_ALIASES]
CategoryFilter = Annotated[
    str | None,
    Query(description="A category's slug or id", json_schema_extra={"examples": _CATEGORY_KEYS}),
]
Search = Annotated[str | None, Query(max_length=200, description="Words of the name or slug")]
Ordering = Annotated[str | None, Query(max_length=200, description="Fields, '-' for descending")]
# Every entry fits one page unless the client asks for smaller ones.
WholeList = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]


def _type(item: taxonomy.ResourceType) -> ResourceTypePublic:
    category = taxonomy.category(item.category)
    assert category is not None  # every type's category is in CATEGORIES (tested)
    return ResourceTypePublic(
        id=item.id,
        slug=item.slug,
        name=item.name,
        category=item.category,
        category_slug=category.slug,
        category_name=category.name,
        description=item.description,
        is_countable=item.is_countable,
        long_term_strategic_value=item.long_term_strategic_value,
        short_term_opportunity=item.short_term_opportunity,
        sort_order=item.sort_order,
    )


def _category(item: taxonomy.Category) -> ResourceCategoryPublic:
    return ResourceCategoryPublic(
        id=item.id,
        slug=item.slug,
        name=item.name,
        description=item.description,
        sort_order=item.sort_order,
        resource_type_count=len(taxonomy.types_of(item.slug)),
    )


def _category_or_400(key: str) -> taxonomy.Category:
    found = taxonomy.category(key)
    if found is None:
        raise HTTPException(
            400, detail=f"category: {key!r} is not one of {', '.join(taxonomy.categories())}"
        )
    return found


@router.get("/resource-types/")
def list_resource_types(
    request: Request,
    user: CurrentUser,
    category: CategoryFilter = None,
    is_countable: bool | None = None,
    search: Search = None,
    ordering: Ordering = None,
    page: PageNumber = 1,
    page_size: WholeList = MAX_PAGE_SIZE,
) -> Page[ResourceTypePublic]:
    wanted = _category_or_400(category).slug if category is not None else None
    items = [
        _type(t)
        for t in taxonomy.RESOURCE_TYPES
        if wanted in (None, t.category)
        and is_countable in (None, t.is_countable)
        and matches(search, t.name, t.slug)
    ]
    items = ordered(
        items,
        ordering,
        {
            "sort_order": lambda t: t.sort_order,
            "name": lambda t: t.name,
            "slug": lambda t: t.slug,
            "category": lambda t: _category_or_400(t.category).sort_order,
        },
    )
    return page_list(request, items, page, page_size)


@router.get("/resource-types/{slug}/")
def get_resource_type(slug: str, user: CurrentUser) -> ResourceTypePublic:
    """A resource type by its slug or its id."""
    item = taxonomy.find(slug)
    if item is None:
        raise HTTPException(404, detail=f"no resource type {slug!r}")
    return _type(item)


@router.get("/resource-categories/")
def list_resource_categories(
    request: Request,
    user: CurrentUser,
    search: Search = None,
    ordering: Ordering = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceCategoryPublic]:
    items = [_category(c) for c in taxonomy.CATEGORIES if matches(search, c.name, c.slug)]
    items = ordered(
        items, ordering, {"sort_order": lambda c: c.sort_order, "name": lambda c: c.name}
    )
    return page_list(request, items, page, page_size)


@router.get("/resource-categories/{category}/")
def get_resource_category(category: str, user: CurrentUser) -> ResourceCategoryPublic:
    """A category by its slug or its id."""
    found = taxonomy.category(category)
    if found is None:
        raise HTTPException(404, detail=f"no resource category {category!r}")
    return _category(found)
