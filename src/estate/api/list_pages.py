"""Ordering and search over lists held in memory (the taxonomy); their pages are
``pagination.page_list``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException

T = TypeVar("T")


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
