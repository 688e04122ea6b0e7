"""Watchlists: the resources an operator cares about, and what changed among them.

Static ones list resources explicitly (``resources/add/``, ``resources/remove/``);
dynamic ones hold a ``filter_query`` over the resource list's filters, checked when
saved and applied when read. Roles: viewers read; operators create, edit, delete
and change members.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import Provider, Resource, User, Watchlist
from ...db.states import Role
from ...db.types import utcnow
from ...inventory import watchlists as lists
from ...inventory.queries import ResourceFilter
from ..deps import CurrentUser, SessionDep, Visible, get_in_scope_or_404, one_of, require_role
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_of
from ..resource_filters import filters_from
from ..schemas import ResourcePublic
from ..watchlist_schemas import (
    WatchlistCreate,
    WatchlistDrift,
    WatchlistMembership,
    WatchlistPublic,
    WatchlistResources,
    WatchlistUpdate,
)
from .resources import resources_public

router = APIRouter(prefix="/watchlists", tags=["watchlists"])


def _filters(watchlist: Watchlist) -> ResourceFilter | None:
    if watchlist.watchlist_type != lists.DYNAMIC:
        return None
    return filters_from(watchlist.filter_query)


def _members(watchlist: Watchlist) -> Any:
    return lists.members_query(watchlist, _filters(watchlist))


def _public(session: Session, watchlist: Watchlist) -> WatchlistPublic:
    return WatchlistPublic(
        id=watchlist.id,
        name=watchlist.name,
        description=watchlist.description,
        watchlist_type=watchlist.watchlist_type,
        filter_query=dict(watchlist.filter_query or {}),
        organization=watchlist.organization_id,
        created_by=watchlist.created_by,
        created_at=watchlist.created_at,
        updated_at=watchlist.updated_at,
        resource_count=lists.member_count(session, _members(watchlist)),
    )


def _get(session: Session, user: User, watchlist_id: int, need: Role = Role.VIEWER) -> Watchlist:
    return get_in_scope_or_404(session, user, Watchlist, watchlist_id, "watchlist", need=need)


def _check_query(kind: str, filter_query: dict[str, Any]) -> dict[str, Any]:
    """The filter_query to store: validated for a dynamic watchlist, {} for a static one."""
    if kind == lists.DYNAMIC:
        filters_from(filter_query)
        return filter_query
    if filter_query:
        raise HTTPException(
            400, detail="filter_query: only a dynamic watchlist has one; a static one lists "
            "its resources (resources/add/)"
        )  # fmt: skip
    return {}


@router.get("/")
def list_watchlists(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    watchlist_type: Annotated[
        str | None, Query(json_schema_extra={"enum": list(lists.TYPES)})
    ] = None,
    organization: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[WatchlistPublic]:
    one_of("watchlist_type", watchlist_type, lists.TYPES)
    query = select(Watchlist).order_by(Watchlist.updated_at.desc(), Watchlist.id.desc())
    if visible is not None:
        query = query.where(Watchlist.organization_id.in_(visible))
    if watchlist_type is not None:
        query = query.where(Watchlist.watchlist_type == watchlist_type)
    if organization is not None:
        query = query.where(Watchlist.organization_id == organization)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [_public(session, w) for w in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/", status_code=status.HTTP_201_CREATED)
def create_watchlist(
    body: WatchlistCreate, session: SessionDep, user: CurrentUser
) -> WatchlistPublic:
    require_role(session, user, body.organization, Role.OPERATOR)
    watchlist = Watchlist(
        organization_id=body.organization,
        name=body.name,
        description=body.description,
        watchlist_type=body.watchlist_type,
        filter_query=_check_query(body.watchlist_type, body.filter_query),
        created_by=user.username,
    )
    session.add(watchlist)
    session.commit()
    return _public(session, watchlist)


@router.get("/{watchlist_id}/")
def get_watchlist(watchlist_id: int, session: SessionDep, user: CurrentUser) -> WatchlistPublic:
    return _public(session, _get(session, user, watchlist_id))


def _update(
    session: Session, user: User, watchlist_id: int, changes: dict[str, Any]
) -> WatchlistPublic:
    watchlist = _get(session, user, watchlist_id, Role.OPERATOR)
    for field in ("name", "watchlist_type", "filter_query", "description"):
        if field in changes and changes[field] is None:
            raise HTTPException(400, detail=f"{field}: may not be null")
    organization = changes.pop("organization", None)
    if organization is not None and organization != watchlist.organization_id:
        raise HTTPException(
            400, detail="organization: a watchlist stays in its organization; make a new one"
        )
    kind = changes.get("watchlist_type", watchlist.watchlist_type)
    if "filter_query" in changes or kind != watchlist.watchlist_type:
        query = changes.get("filter_query", watchlist.filter_query if kind == lists.DYNAMIC else {})
        changes["filter_query"] = _check_query(kind, query)
    if kind == lists.DYNAMIC and watchlist.watchlist_type == lists.STATIC:
        lists.remove_members(session, watchlist.id, None)  # its filters choose now
    for field, value in changes.items():
        setattr(watchlist, field, value)
    watchlist.updated_at = utcnow()
    session.commit()
    return _public(session, watchlist)


@router.patch("/{watchlist_id}/")
def patch_watchlist(
    watchlist_id: int, body: WatchlistUpdate, session: SessionDep, user: CurrentUser
) -> WatchlistPublic:
    return _update(session, user, watchlist_id, body.model_dump(exclude_unset=True))


@router.put("/{watchlist_id}/")
def put_watchlist(
    watchlist_id: int, body: WatchlistCreate, session: SessionDep, user: CurrentUser
) -> WatchlistPublic:
    changes = body.model_dump()
    if "organization" not in body.model_fields_set:
        del changes["organization"]  # not sent: it stays where it is
    return _update(session, user, watchlist_id, changes)


@router.delete("/{watchlist_id}/", status_code=status.HTTP_204_NO_CONTENT)
def delete_watchlist(watchlist_id: int, session: SessionDep, user: CurrentUser) -> Response:
    session.delete(_get(session, user, watchlist_id, Role.OPERATOR))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{watchlist_id}/resources/")
def watchlist_resources(
    request: Request,
    watchlist_id: int,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ResourcePublic]:
    """The watchlist's resources, as items of ``resources/``."""
    watchlist = _get(session, user, watchlist_id)
    count, rows, next_url, previous = page_of(
        session, request, _members(watchlist), page, page_size
    )
    results = resources_public(session, rows)
    return Page(count=count, next=next_url, previous=previous, results=results)


_DYNAMIC_MEMBERS = "the watchlist is dynamic: its filter_query chooses its resources"


def _static(session: Session, user: User, watchlist_id: int) -> Watchlist:
    watchlist = _get(session, user, watchlist_id, Role.OPERATOR)
    if watchlist.watchlist_type == lists.DYNAMIC:
        raise HTTPException(
            409,
            detail=f"watchlist {watchlist.id} is dynamic: its filter_query chooses its "
            "resources; change filter_query, or make it static",
        )
    return watchlist


@router.post("/{watchlist_id}/resources/add/", responses=conflict(_DYNAMIC_MEMBERS))
def add_watchlist_resources(
    watchlist_id: int, body: WatchlistResources, session: SessionDep, user: CurrentUser
) -> WatchlistMembership:
    """Add resources of the watchlist's organization (others: 400, nothing added)."""
    watchlist = _static(session, user, watchlist_id)
    missing = lists.outside(session, watchlist.organization_id, body.resource_ids)
    if missing:
        raise HTTPException(
            400,
            detail=f"resource_ids: no resource with id {', '.join(map(str, missing))} in "
            f"organization {watchlist.organization_id}",
        )
    added = lists.add_members(session, watchlist.id, body.resource_ids)
    watchlist.updated_at = utcnow()
    session.commit()
    return _membership(session, watchlist, f"Added {added} resource(s).", added)


@router.post("/{watchlist_id}/resources/remove/", responses=conflict(_DYNAMIC_MEMBERS))
def remove_watchlist_resources(
    watchlist_id: int, body: WatchlistResources, session: SessionDep, user: CurrentUser
) -> WatchlistMembership:
    """Remove resources; ids that are no member are ignored."""
    watchlist = _static(session, user, watchlist_id)
    removed = lists.remove_members(session, watchlist.id, body.resource_ids)
    watchlist.updated_at = utcnow()
    session.commit()
    return _membership(session, watchlist, f"Removed {removed} resource(s).", removed)


def _membership(
    session: Session, watchlist: Watchlist, detail: str, changed: int
) -> WatchlistMembership:
    count = lists.member_count(session, _members(watchlist))
    return WatchlistMembership(detail=detail, changed=changed, resource_count=count)


@router.get("/{watchlist_id}/drift/")
def watchlist_drift(
    request: Request,
    watchlist_id: int,
    session: SessionDep,
    user: CurrentUser,
    since: Annotated[datetime | None, Query(description="Only changes from this time on")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[WatchlistDrift]:
    """What changed among the watchlist's resources, newest first: their history rows."""
    watchlist = _get(session, user, watchlist_id)
    query = lists.drift_query(_members(watchlist), since)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    ids = {c.resource_id for c in rows}
    resources = {
        r.id: (r, name)
        for r, name in session.execute(
            select(Resource, Provider.name)
            .join(Provider, Provider.id == Resource.provider_id)
            .where(Resource.id.in_(ids))
        ).all()
    }
    results = []
    for change in rows:
        resource, provider_name = resources[change.resource_id]
        results.append(
            WatchlistDrift(
                id=change.id,
                resource=resource.id,
                resource_name=resource.name,
                resource_type_slug=resource.resource_type,
                provider=resource.provider_id,
                provider_name=provider_name,
                collection_run=change.run_id,
                drift_type=change.kind,
                detected_at=change.changed_at,
                changes=change.changes,
            )
        )
    return Page(count=count, next=next_url, previous=previous, results=results)
