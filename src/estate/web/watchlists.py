"""Watchlists: the list (type, resource count; a create form for operators) and one
watchlist's page: its resources, paginated, and what changed among them lately.

Reads use inventory/watchlists.py as ``watchlists/`` does; creating a watchlist and
adding or removing members post to the API from estate.js.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..db.models import Organization, Resource, Watchlist
from ..db.states import Role
from ..inventory import watchlists as lists
from ..inventory.queries import rows_in_order
from .dashboard import TYPE_NAMES
from .deps import PageSession, PageVisitor, Visitor, visible_or_404
from .templating import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGE = 2000
DRIFT = 20
PageNumber = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]


def members(watchlist: Watchlist) -> tuple[Select[Any] | None, str]:
    """The watchlist's members query, or None and why its stored filters no longer read."""
    filters = None
    if watchlist.watchlist_type == lists.DYNAMIC:
        try:
            filters = lists.stored_filters(watchlist.filter_query or {})
        except ValueError as exc:
            return None, str(exc)
    return lists.members_query(watchlist, filters), ""


def _count(session: Session, watchlist: Watchlist) -> int | None:
    query, _ = members(watchlist)
    return None if query is None else lists.member_count(session, query)


def _writable_organizations(session: Session, visitor: Visitor) -> list[Organization]:
    query = select(Organization).order_by(Organization.name)
    if visitor.visible is not None:
        query = query.where(Organization.id.in_(visitor.visible))
    return [o for o in session.scalars(query) if visitor.may(session, Role.OPERATOR, o.id)]


@router.get("/watchlists")
def watchlist_list(
    request: Request, session: PageSession, visitor: PageVisitor, page_number: PageNumber = 1
) -> HTMLResponse:
    query = select(Watchlist)
    if visitor.visible is not None:
        query = query.where(Watchlist.organization_id.in_(visitor.visible))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(
        session.scalars(
            query.order_by(Watchlist.updated_at.desc(), Watchlist.id.desc())
            .offset((page_number - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    return page(
        request,
        "watchlists.html",
        watchlists=rows,
        counts={w.id: _count(session, w) for w in rows},
        organizations=_writable_organizations(session, visitor),
        page_number=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@router.get("/watchlists/{watchlist_id}")
def watchlist_page(
    request: Request,
    watchlist_id: int,
    session: PageSession,
    visitor: PageVisitor,
    page_number: PageNumber = 1,
) -> HTMLResponse:
    watchlist = session.get(Watchlist, watchlist_id) if 0 < watchlist_id < 2**31 else None
    visible_or_404(session, visitor, watchlist, "watchlist")
    assert watchlist is not None
    query, problem = members(watchlist)
    rows: list[Resource] = []
    drift: list[Any] = []
    total = 0
    if query is not None:
        total = lists.member_count(session, query)
        ids = query.with_only_columns(Resource.id)
        rows = rows_in_order(session, ids.offset((page_number - 1) * PAGE_SIZE).limit(PAGE_SIZE))
        drift = list(session.scalars(lists.drift_query(query).limit(DRIFT)))
    names = dict(
        session.execute(
            select(Resource.id, func.coalesce(Resource.name, Resource.ems_ref)).where(
                Resource.id.in_({c.resource_id for c in drift})
            )
        ).all()
    )
    may_edit = visitor.may(session, Role.OPERATOR, watchlist.organization_id)
    return page(
        request,
        "watchlist.html",
        watchlist=watchlist,
        problem=problem,
        rows=rows,
        total=total,
        drift=drift,
        names=names,
        may_remove=may_edit and watchlist.watchlist_type == lists.STATIC,
        page_number=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        type_names=TYPE_NAMES,
    )
