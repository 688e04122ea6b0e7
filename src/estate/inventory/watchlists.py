"""Watchlists: which resources one is, and what changed among them lately.

A static watchlist's members are rows of ``watchlist_resources``; a dynamic one's are
the resources of its organization that its filters match now (the filters are those
of the resource list, parsed by the API from ``filter_query``). Their drift is the
resources' own history rows (``resource_changes``): there is no second history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from ..db.models import Resource, ResourceChange, Watchlist, WatchlistResource
from .queries import ResourceFilter, changes_query, in_organization, resource_query
from .tags import parse_tag

STATIC = "static"
DYNAMIC = "dynamic"
TYPES = (STATIC, DYNAMIC)
# The resource list's other names for its filters (the UIS's), as api/resource_filters.py.
_ALIASES = {"provider__id": "provider", "resource_type__slug": "resource_type"}
_FILTER = TypeAdapter(ResourceFilter)
_FILTER_NAMES = {f.name for f in fields(ResourceFilter)} - {"tags", "providers"} | {"tag"}


def stored_filters(filter_query: Mapping[str, Any]) -> ResourceFilter:
    """The filters of a dynamic watchlist's stored ``filter_query``, which the API
    checked when it was saved (api/resource_filters.filters_from, whose answer this
    equals); ValueError if it no longer reads."""
    values = {_ALIASES.get(k, k): v for k, v in filter_query.items() if v is not None}
    unknown = sorted(set(values) - _FILTER_NAMES)
    if unknown:
        raise ValueError(f"filter_query: {', '.join(unknown)}: not a resource filter")
    tags = values.pop("tag", None) or []
    values["tags"] = tuple(parse_tag(str(t)) for t in ([tags] if isinstance(tags, str) else tags))
    filters: ResourceFilter = _FILTER.validate_python(values)
    return filters


def members_query(watchlist: Watchlist, filters: ResourceFilter | None) -> Select[Any]:
    """The watchlist's resources, oldest first; ``filters`` those of a dynamic one."""
    if watchlist.watchlist_type == DYNAMIC:
        query = resource_query(filters or ResourceFilter())
        return query.where(in_organization(watchlist.organization_id)).order_by(Resource.id)
    members = select(WatchlistResource.resource_id).where(
        WatchlistResource.watchlist_id == watchlist.id
    )
    # A member whose provider moved to another organization is no longer shown here.
    query = select(Resource).where(
        Resource.id.in_(members), in_organization(watchlist.organization_id)
    )
    return query.order_by(Resource.id)


def member_count(session: Session, members: Select[Any]) -> int:
    ids = members.with_only_columns(Resource.id).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def drift_query(members: Select[Any], since: datetime | None = None) -> Select[ResourceChange]:
    """The history rows of the watchlist's resources, newest first."""
    return changes_query(members.with_only_columns(Resource.id).order_by(None), since)


def outside(session: Session, organization_id: int, resource_ids: Iterable[int]) -> list[int]:
    """Those of ``resource_ids`` that are no resource of the organization."""
    wanted = sorted(set(resource_ids))
    found = set(
        session.scalars(
            select(Resource.id).where(Resource.id.in_(wanted), in_organization(organization_id))
        )
    )
    return [i for i in wanted if i not in found]


def add_members(session: Session, watchlist_id: int, resource_ids: Iterable[int]) -> int:
    """Add resources (those in it already stay); how many were new."""
    wanted = set(resource_ids)
    have = set(
        session.scalars(
            select(WatchlistResource.resource_id).where(
                WatchlistResource.watchlist_id == watchlist_id,
                WatchlistResource.resource_id.in_(wanted),
            )
        )
    )
    new = sorted(wanted - have)
    session.add_all(WatchlistResource(watchlist_id=watchlist_id, resource_id=r) for r in new)
    session.flush()
    return len(new)


def remove_members(session: Session, watchlist_id: int, resource_ids: Iterable[int] | None) -> int:
    """Remove these resources (all when None); how many were members."""
    statement = delete(WatchlistResource).where(WatchlistResource.watchlist_id == watchlist_id)
    if resource_ids is not None:
        statement = statement.where(WatchlistResource.resource_id.in_(list(resource_ids)))
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
