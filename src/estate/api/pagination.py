"""DRF-style list pages: ``{"count", "next", "previous", "results"}``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PAGE_SIZE = 1000
MAX_PAGE = 2**31 - 1  # keeps every offset within a 64-bit integer
_MAX_ID = 2**63 - 1


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]


def count_of(session: Session, query: Select[Any]) -> int:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)


def page_of(
    session: Session,
    request: Request,
    query: Select[Any],
    page: int,
    page_size: int,
    *,
    extra: int = 0,
    total: int | None = None,
    rows_of: bool = False,
) -> tuple[int, Sequence[Any], str | None, str | None]:
    """Numbered pages: the rows of ``page`` and links to its neighbours.

    ``extra`` entries the caller appends after the query's rows count in the total;
    ``total``, when the caller counts more cheaply than ``count_of``; ``rows_of``:
    whole result rows, not their first column.
    """
    total = (count_of(session, query) if total is None else total) + extra
    window = query.offset((page - 1) * page_size).limit(page_size)
    rows = session.execute(window).all() if rows_of else session.scalars(window).all()
    return total, rows, *page_links(request, page, page_size, total)


def page_links(
    request: Request, page: int, page_size: int, total: int
) -> tuple[str | None, str | None]:
    """``(next, previous)``: the links of numbered page ``page`` of ``total`` items."""
    has_next = page * page_size < total
    next_url = str(request.url.include_query_params(page=page + 1)) if has_next else None
    previous = str(request.url.include_query_params(page=page - 1)) if page > 1 else None
    return next_url, previous


def page_list(request: Request, items: Sequence[T], page: int, page_size: int) -> Page[T]:
    """A numbered page of a list already in memory (the catalog, a few members)."""
    start = (page - 1) * page_size
    next_url, previous = page_links(request, page, page_size, len(items))
    return Page[T](
        count=len(items),
        next=next_url,
        previous=previous,
        results=list(items[start : start + page_size]),
    )


def one_mode(page: int | None, cursor: str | None) -> None:
    """400 when a request asks for both a page number and a cursor: they are two ways
    of walking one list, and mixing them has no meaning."""
    if page is not None and cursor is not None:
        raise HTTPException(400, detail="page: give either page or cursor, not both")


def encode_cursor(last_id: int, direction: str = "n") -> str:
    return base64.urlsafe_b64encode(f"{direction}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """``(direction, id)`` from an opaque cursor; 400 when it was not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        direction, value = raw[0], int(raw[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError):
        raise HTTPException(400, detail="cursor: not a cursor this API gave out") from None
    if direction not in ("n", "p") or not 0 <= value <= _MAX_ID:
        raise HTTPException(400, detail="cursor: not a cursor this API gave out")
    return direction, value
