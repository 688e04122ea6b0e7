"""The inventory: resources with filters and cursor pagination, detail, history."""

from __future__ import annotations

from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Query, Request

from inventory_providers.base import STATES

from ... import taxonomy
from ...auth.roles import in_visible
from ...db.models import Resource, ResourceChange, User
from ...db.storable import INT_MAX
from ...inventory.drift import DriftFilter
from ...inventory.queries import (
    ResourceFilter,
    created_entry,
    history_query,
    relationships_of,
    resource_query,
)
from ...inventory.sightings import SightingFilter
from ..deps import CurrentUser, IdFilter, SessionDep, Visible, get_in_scope_or_404, one_of
from ..pagination import Page, PageNumber, PageSize, count_of, decode_cursor, encode_cursor, page_of
from ..schemas import (
    ResourceChangePublic,
    ResourceDetail,
    ResourceDriftPublic,
    ResourcePublic,
    ResourceSightingPublic,
)
from .drift import After, Before, DriftType, drift_page
from .sightings import SeenAfter, SeenBefore, State, sighting_page

router = APIRouter(prefix="/resources", tags=["resources"])

_STATES = sorted(STATES)
_TYPES = [t.slug for t in taxonomy.RESOURCE_TYPES]
StateFilter = Annotated[
    str | None, Query(description="The normalised state", json_schema_extra={"enum": _STATES})
]
TypeFilter = Annotated[
    str | None, Query(description="A slug of the taxonomy", json_schema_extra={"enum": _TYPES})
]


# ResourcePublic's fields are read from the columns of the same names (but for the
# renamed ones); is_deleted is made from deleted_at.
_COLUMN_OF = {"provider": "provider_id", "last_seen_run": "last_seen_run_id"}
_READ = tuple(
    (name, _COLUMN_OF.get(name, name))
    for name in ResourcePublic.model_fields
    if name != "is_deleted"
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
    return out


@router.get("/")
def list_resources(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    provider: IdFilter | None = None,
    resource_type: TypeFilter = None,
    state: StateFilter = None,
    vendor: str | None = None,
    region: str | None = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the name or ems_ref")
    ] = None,
    include_deleted: bool = False,
    cursor: str | None = None,
    page_size: PageSize = 100,
) -> Page[ResourcePublic]:
    one_of("resource_type", resource_type, _TYPES)
    one_of("state", state, _STATES)
    filters = ResourceFilter(
        provider, resource_type, state, vendor, region, search, include_deleted
    )
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
    results = [ResourcePublic.model_validate(_fields(r)) for r in rows]
    return Page(count=total, next=next_url, previous=previous, results=results)


def _get(session: SessionDep, user: User, resource_id: int) -> Resource:
    return get_in_scope_or_404(session, user, Resource, resource_id, "resource", limit=INT_MAX)


@router.get("/{resource_id}/")
def get_resource(resource_id: int, session: SessionDep, user: CurrentUser) -> ResourceDetail:
    resource = _get(session, user, resource_id)
    edges = relationships_of(session, resource)
    return ResourceDetail.model_validate({**_fields(resource), "relationships": edges})


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


@router.get("/{resource_id}/drift/")
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
) -> Page[ResourceDriftPublic]:
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
