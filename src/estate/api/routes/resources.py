"""The inventory: resources with filters and cursor pagination, detail, history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from ...auth.roles import in_visible
from ...db.models import Resource, ResourceChange, User
from ...db.storable import INT_MAX
from ...inventory.automations import automations_page
from ...inventory.queries import (
    ResourceFilter,
    created_entry,
    history_query,
    relationships_of,
    resource_query,
)
from ...inventory.tags import tags_of
from ..deps import CurrentUser, SessionDep, Visible, get_in_scope_or_404
from ..pagination import Page, PageNumber, PageSize, count_of, decode_cursor, encode_cursor, page_of
from ..resource_filters import resource_filters
from ..schemas import (
    AutomationRecordPublic,
    ResourceChangePublic,
    ResourceDetail,
    ResourcePublic,
    TagPublic,
)

router = APIRouter(prefix="/resources", tags=["resources"])


# ResourcePublic's fields are read from the columns of the same names (but for the
# renamed ones); is_deleted is made from deleted_at.
_COLUMN_OF = {"provider": "provider_id"}
_READ = tuple(
    (name, _COLUMN_OF.get(name, name))
    for name in ResourcePublic.model_fields
    if name not in ("is_deleted", "tags")
)
# An empty JSON column is NULL; the API shows [] or {}, as the field's type says.
_EMPTY = {
    name: origin
    for name, info in ResourcePublic.model_fields.items()
    if (origin := get_origin(info.annotation)) in (list, dict)
}


def _fields(resource: Resource) -> dict[str, Any]:
    out = {name: getattr(resource, column) for name, column in _READ}
    for name, empty in _EMPTY.items():
        if out[name] is None:
            out[name] = empty()
    out["is_deleted"] = resource.deleted_at is not None
    out["tags"] = []  # read for a whole page at once: resources_public
    return out


def tag_public(tag: Any) -> TagPublic:
    return TagPublic(
        id=tag.id,
        namespace=tag.namespace,
        key=tag.key,
        value=tag.value,
        organization=tag.organization_id,
    )


def resources_public(session: Session, rows: Sequence[Resource]) -> list[ResourcePublic]:
    """List items of ``rows``, their tags read in one query for the whole page."""
    tags = tags_of(session, [r.id for r in rows])
    return [
        ResourcePublic.model_validate({**_fields(r), "tags": [tag_public(t) for t in tags[r.id]]})
        for r in rows
    ]


@router.get("/")
def list_resources(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    filters: Annotated[ResourceFilter, Depends(resource_filters)],
    cursor: str | None = None,
    page_size: PageSize = 100,
) -> Page[ResourcePublic]:
    query = resource_query(filters).where(in_visible(Resource.provider_id, visible))
    total = count_of(session, query)
    direction, last = decode_cursor(cursor) if cursor else ("n", 0)
    if direction == "n":
        page = query.where(Resource.id > last).order_by(Resource.id).limit(page_size + 1)
        rows = list(session.scalars(page))
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        has_less = last > 0
    else:
        page = query.where(Resource.id < last).order_by(Resource.id.desc()).limit(page_size + 1)
        rows = list(session.scalars(page))
        has_less = len(rows) > page_size
        rows = list(reversed(rows[:page_size]))
        has_more = True
    next_url = previous = None
    if rows and has_more:
        next_url = str(request.url.include_query_params(cursor=encode_cursor(rows[-1].id, "n")))
    if rows and has_less:
        previous = str(request.url.include_query_params(cursor=encode_cursor(rows[0].id, "p")))
    results = resources_public(session, rows)
    return Page(count=total, next=next_url, previous=previous, results=results)


def _get(session: SessionDep, user: User, resource_id: int) -> Resource:
    return get_in_scope_or_404(session, user, Resource, resource_id, "resource", limit=INT_MAX)


@router.get("/{resource_id}/")
def get_resource(resource_id: int, session: SessionDep, user: CurrentUser) -> ResourceDetail:
    resource = _get(session, user, resource_id)
    edges = relationships_of(session, resource)
    (item,) = resources_public(session, [resource])
    return ResourceDetail.model_validate({**item.model_dump(), "relationships": edges})


def _change(change: ResourceChange) -> ResourceChangePublic:
    return ResourceChangePublic(
        id=change.id,
        resource=change.resource_id,
        run=change.run_id,
        kind=change.kind,
        changes=change.changes,
        changed_at=change.changed_at,
    )


@router.get("/{resource_id}/history/")
def resource_history(
    request: Request,
    resource_id: int,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceChangePublic]:
    resource = _get(session, user, resource_id)
    count, rows, next_url, previous = page_of(
        session, request, history_query(resource_id), page, page_size, extra=1
    )
    entries = [_change(c) for c in rows]
    if len(entries) < page_size and (page - 1) * page_size + len(entries) == count - 1:
        # The oldest entry, derived from the resource row, ends the last page.
        entries.append(_change(created_entry(session, resource)))
    return Page(count=count, next=next_url, previous=previous, results=entries)


@router.get("/{resource_id}/automations/")
def resource_automations(
    request: Request,
    resource_id: int,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[AutomationRecordPublic]:
    """The automations run on the resource, newest first (the UIS's automation records).

    Estate's source is the resource's action runs; until actions exist (issue 12) it is
    empty, and the page says so: ``count`` 0, no results.
    """
    resource = _get(session, user, resource_id)
    count, records = automations_page(
        session, resource.id, offset=(page - 1) * page_size, limit=page_size
    )
    has_next = page * page_size < count
    next_url = str(request.url.include_query_params(page=page + 1)) if has_next else None
    previous = str(request.url.include_query_params(page=page - 1)) if page > 1 else None
    results = [AutomationRecordPublic.model_validate(r, from_attributes=True) for r in records]
    return Page(count=count, next=next_url, previous=previous, results=results)
