"""Numbered pages over lists held in memory (the taxonomy, exploded relationships)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import HTTPException, Request

from .pagination import Page

T = TypeVar("T")


def paged(request: Request, items: Sequence[T], page: int, page_size: int) -> Page[T]:
    """``page`` of ``items`` with DRF's ``count``/``next``/``previous`` links."""
    start = (page - 1) * page_size
    has_next = start + page_size < len(items)
    next_url = str(request.url.include_query_params(page=page + 1)) if has_next else None
    previous = str(request.url.include_query_params(page=page - 1)) if page > 1 else None
    return Page(
        count=len(items),
        next=next_url,
        previous=previous,
        results=list(items[start : start + page_size]),
    )


def ordered(items: list[T], ordering: str | None, keys: dict[str, Callable[[T], Any]]) -> list[T]:
    """``items`` sorted as DRF's ``?ordering=name,-sort_order`` asks; 400 for another field."""
    if not ordering:
        return items
    fields = [part.strip() for part in ordering.split(",") if part.strip()]
    for name in reversed(fields):  # stable sorts: the last key first
        key = keys.get(name.removeprefix("-"))
        if key is None:
            accepted = ", ".join(sorted(keys))
            raise HTTPException(
                400, detail=f"ordering: cannot order by {name!r} (accepted: {accepted})"
            )
        items = sorted(items, key=key, reverse=name.startswith("-"))
    return items


def matches(search: str | None, *texts: str | None) -> bool:
    """DRF's ``?search=``: every word of ``search`` is in one of ``texts``, ignoring case."""
    if not search:
        return True
    haystack = " ".join(t for t in texts if t).lower()
    return all(word in haystack for word in search.lower().split())
