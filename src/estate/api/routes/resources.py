"""The inventory: resources with filters and cursor pagination, detail, history."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import Executable, Row, select
from sqlalchemy.orm import QueryableAttribute, Session

from ... import taxonomy
from ...db.among import among
from ...db.models import Provider, Resource, ResourceChange, ResourceSeen, User
from ...db.storable import INT_MAX
from ...inventory.automations import automations_page
from ...inventory.counts import Listed, listed
from ...inventory.drift import DriftFilter
from ...inventory.queries import (
    ResourceFilter,
    created_entry,
    history_query,
    providers_of_organizations,
    relationships_of,
    resource_query,
    rows_in_order,
)
from ...inventory.sightings import SightingFilter
from ...inventory.tags import tags_of
from ..answers import json_answer, page_answer
from ..deps import CurrentUser, SessionDep, Visible, get_in_scope_or_404
from ..ordering import Ordering, order_clauses
from ..pagination import (
    MAX_PAGE,
    Page,
    PageNumber,
    PageSize,
    decode_cursor,
    encode_cursor,
    one_mode,
    page_links,
    page_of,
)
from ..resource_filters import resource_filters
from ..schemas import (
    AutomationRecordPublic,
    ResourceChangePublic,
    ResourceDetail,
    ResourceDriftPublic,
    ResourcePublic,
    ResourceSightingPublic,
    TagPublic,
)
from .drift import After, Before, DriftType, drift_page
from .sightings import SeenAfter, SeenBefore, State, sighting_page

router = APIRouter(prefix="/resources", tags=["resources"])


# ResourcePublic's fields are read from the columns of the same names (but for the
# renamed ones); the others are made by _item.
_COLUMN_OF = {
    "provider": "provider_id",
    "resource_type_slug": "resource_type",
    "first_discovered_at": "first_seen_at",
    "last_seen_run": "last_seen_run_id",
}
# (_item appends them to a row in this order.)
_MADE_ORDER = ("is_deleted", "resource_type_name", "provider_name", "organization", "tags")
_MADE = frozenset(_MADE_ORDER)
# A page's rows are read as plain tuples of these columns, not as ORM objects.
_COLUMN_NAMES = tuple(
    sorted(
        {_COLUMN_OF.get(name, name) for name in ResourcePublic.model_fields if name not in _MADE}
        | {"resource_type", "provider_id", "deleted_at"}
    )
)
_SEEN = ResourceSeen.__table__.c  # last seen, by which run, how often (a table apart)
_COLUMNS = tuple(
    _SEEN[name] if name in _SEEN else Resource.__table__.c[name] for name in _COLUMN_NAMES
)
_AT = {name: i for i, name in enumerate(_COLUMN_NAMES)}
_ID, _PROVIDER, _TYPE, _DELETED = (
    _AT[c] for c in ("id", "provider_id", "resource_type", "deleted_at")
)
# _item reads a row of _COLUMNS followed by the made values (_MADE_ORDER), picking
# each field's value by position, in the model's field order.
_FIELDS = tuple(ResourcePublic.model_fields)
_PICK = itemgetter(
    *(
        len(_COLUMN_NAMES) + _MADE_ORDER.index(name)
        if name in _MADE
        else _AT[_COLUMN_OF.get(name, name)]
        for name in _FIELDS
    )
)
# An empty JSON column is NULL; the API shows [] or {}, as the field's type says.
_EMPTY = {
    name: origin
    for name, info in ResourcePublic.model_fields.items()
    if (origin := get_origin(info.annotation)) in (list, dict)
}
_TYPE_NAMES = {t.slug: t.name for t in taxonomy.RESOURCE_TYPES}
# What ?ordering= may sort by: the UIS's names (first_discovered_at) and Estate's.
_SORTABLE: dict[str, QueryableAttribute[Any]] = {
    "id": Resource.id,
    "name": Resource.name,
    "state": Resource.state,
    "resource_type": Resource.resource_type,
    "vendor_type": Resource.vendor_type,
    "region": Resource.region,
    "os_type": Resource.os_type,
    "first_discovered_at": Resource.first_seen_at,
    "first_seen_at": Resource.first_seen_at,
    "last_seen_at": ResourceSeen.last_seen_at,
    "updated_at": Resource.updated_at,
    "boot_time": Resource.boot_time,
    "ems_created_on": Resource.ems_created_on,
    "cpu_count": Resource.cpu_count,
    "memory_mb": Resource.memory_mb,
    "disk_gb": Resource.disk_gb,
}
ProviderOf = dict[int, tuple[str, int]]


def providers_of(session: Session, ids: set[int]) -> ProviderOf:
    """Each provider's ``(name, organization)``: one query for a whole page."""
    if not ids:
        return {}
    rows = session.connection().execute(_PROVIDERS_OF, {"ids": list(ids)})
    return {pid: (name, organization) for pid, name, organization in rows}


_PROVIDERS_OF = select(Provider.id, Provider.name, Provider.organization_id).where(
    among(Provider.id, "ids")
)


def _item(row: Sequence[Any], providers: ProviderOf, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """A list item as ResourcePublic serializes it, in its field order, from a row of
    :data:`_COLUMNS` (read by position: a Row's attributes cost far more)."""
    resource_type = row[_TYPE]
    out = dict(
        zip(
            _FIELDS,
            _PICK(
                (
                    *row,
                    row[_DELETED] is not None,
                    _TYPE_NAMES.get(resource_type, resource_type),
                    *providers[row[_PROVIDER]],
                    tags,
                )
            ),
            strict=True,
        )
    )
    for name, empty in _EMPTY.items():
        if out[name] is None:
            out[name] = empty()
    if out["disk_gb"] is not None:
        out["disk_gb"] = float(out["disk_gb"])
    return out


def row_of(resource: Resource) -> tuple[Any, ...]:
    """A loaded ``Resource`` as a row of :data:`_COLUMNS`."""
    return tuple(getattr(resource, name) for name in _COLUMN_NAMES)


def tag_item(tag: Any) -> dict[str, Any]:
    return {
        "id": tag.id,
        "namespace": tag.namespace,
        "key": tag.key,
        "value": tag.value,
        "organization": tag.organization_id,
    }


def tag_public(tag: Any) -> TagPublic:
    return TagPublic.model_validate(tag_item(tag))


def resource_items(session: Session, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """List items of ``rows`` (of :data:`_COLUMNS`) as plain dicts (see api/answers.py):
    their providers and tags read in one query each for the whole page."""
    providers = providers_of(session, {r[_PROVIDER] for r in rows})
    tags = tags_of(session, [r[_ID] for r in rows])
    return [_item(r, providers, [tag_item(t) for t in tags[r[_ID]]]) for r in rows]


def resources_public(session: Session, resources: Sequence[Resource]) -> list[ResourcePublic]:
    """List items of loaded resources as models, for routes that answer models."""
    items = resource_items(session, [row_of(r) for r in resources])
    return [ResourcePublic.model_validate(item) for item in items]


@router.get("/", response_model=Page[ResourcePublic])
def list_resources(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    filters: Annotated[ResourceFilter, Depends(resource_filters)],
    ordering: Ordering = None,
    cursor: Annotated[str | None, Query(description="Walk by cursor (not with page)")] = None,
    page: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE, description="Walk by page number (not with cursor)")
    ] = None,
    page_size: PageSize = 100,
) -> Response:
    one_mode(page, cursor)
    if visible is not None:
        filters = replace(filters, providers=providers_of_organizations(session, visible))
    query = resource_query(filters)
    order = order_clauses(ordering, _SORTABLE, Resource.id)
    if cursor is not None and order is not None:
        raise HTTPException(400, detail="ordering: cursor pages are ordered by id; use page")
    listing = listed(session, filters, query)
    few = listing.few
    if page is not None or order is not None:
        page = page or 1
        start = (page - 1) * page_size
        if few is not None and order is None:
            rows = _rows(session, few[start : start + page_size])
        else:
            # one row more than the page: whether an estimated list goes on
            ids = listing.numbered(session, filters, start, page_size + 1, order)
            rows = _rows(session, ids)
        more = len(rows) > page_size
        rows = rows[:page_size]
        total, guessed = listing.settled(start, len(rows), more)
        next_url, previous = page_links(request, page, page_size, total)
        items = resource_items(session, rows)
        return page_answer(total, next_url, previous, items, estimated=guessed)
    return _cursor_page(session, request, listing, cursor, page_size)


def _rows(session: Session, ids_query: Executable | Sequence[int]) -> list[Row[Any]]:
    """The page's rows in order, ids first (``rows_in_order``), as plain rows of the
    columns an item shows."""
    return rows_in_order(session, ids_query, _COLUMNS, _ID)


def _cursor_page(
    session: Session, request: Request, listing: Listed, cursor: str | None, page_size: int
) -> Response:
    """Estate's fast path: ``WHERE id > last`` on the primary key, at any depth (or
    the ids after ``last`` in ``few``, every id of the list)."""
    few = listing.few
    direction, last = decode_cursor(cursor) if cursor else ("n", 0)
    ids: Executable | list[int]
    if direction == "n":
        if few is not None:
            start = bisect.bisect_right(few, last)
            ids = few[start : start + page_size + 1]
        else:
            ids = listing.ids_after(last).limit(page_size + 1)
        rows = _rows(session, ids)
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        has_less = last > 0
    else:
        if few is not None:
            end = bisect.bisect_left(few, last)
            ids = few[max(0, end - page_size - 1) : end][::-1]
        else:
            ids = listing.ids_before(last).limit(page_size + 1)
        rows = _rows(session, ids)
        has_less = len(rows) > page_size
        rows = list(reversed(rows[:page_size]))
        has_more = True
    next_url = previous = None
    if rows and has_more:
        next_url = str(request.url.include_query_params(cursor=encode_cursor(rows[-1][_ID], "n")))
    if rows and has_less:
        previous = str(request.url.include_query_params(cursor=encode_cursor(rows[0][_ID], "p")))
    if last == 0:
        total, guessed = listing.settled(0, len(rows), has_more)
    else:
        total, guessed = listing.total, listing.estimated
    items = resource_items(session, rows)
    return page_answer(total, next_url, previous, items, estimated=guessed)


def _get(session: SessionDep, user: User, resource_id: int) -> Resource:
    return get_in_scope_or_404(session, user, Resource, resource_id, "resource", limit=INT_MAX)


@router.get("/{resource_id}/", response_model=ResourceDetail)
def get_resource(resource_id: int, session: SessionDep, user: CurrentUser) -> Response:
    resource = _get(session, user, resource_id)
    edges, complete = relationships_of(session, resource)
    (item,) = resource_items(session, [row_of(resource)])
    return json_answer({**item, "relationships": edges, "relationships_complete": complete})


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
    """The automations run on the resource, newest first (the UIS's automation records):
    its action runs (docs/actions.md)."""
    resource = _get(session, user, resource_id)
    count, records = automations_page(
        session, resource.id, offset=(page - 1) * page_size, limit=page_size
    )
    next_url, previous = page_links(request, page, page_size, count)
    results = [AutomationRecordPublic.model_validate(r, from_attributes=True) for r in records]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.get("/{resource_id}/drift/", response_model=Page[ResourceDriftPublic])
def resource_drift(
    request: Request,
    resource_id: int,
    session: SessionDep,
    user: CurrentUser,
    drift_type: DriftType = None,
    detected_after: After = None,
    detected_before: Before = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Response:
    """The resource's changes, newest first: ``resource-drift/?resource=`` of one."""
    resource = _get(session, user, resource_id)
    filters = DriftFilter(
        resource=resource.id,
        drift_type=drift_type,
        detected_after=detected_after,
        detected_before=detected_before,
    )
    return drift_page(request, session, None, filters, "-detected_at", page, page_size)


@router.get("/{resource_id}/sightings/")
def resource_sightings(
    request: Request,
    resource_id: int,
    session: SessionDep,
    user: CurrentUser,
    state: State = None,
    seen_after: SeenAfter = None,
    seen_before: SeenBefore = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourceSightingPublic]:
    """The resource's sightings, newest first; the first item is the current one."""
    resource = _get(session, user, resource_id)
    filters = SightingFilter(
        resource=resource.id, state=state, seen_after=seen_after, seen_before=seen_before
    )
    return sighting_page(request, session, None, filters, "-seen_at", page, page_size)
