"""How many resources a list holds, from ``resource_counts`` wherever it can answer.

``count`` of a resource list is always exact. It is a sum over the few rows of
``resource_counts`` (kept by triggers in the transaction of every write: see
models.ResourceCount) when the list is filtered only by provider, vendor, type,
state, os_type, region and deletion, and by the providers the caller may see —
every list but ``search`` and ``tag``. Those two are counted from their indexes
(the search index, the tag index): exact too, at the cost of the matching rows. A
list filtered by tags and by provider alone is counted from ``resource_tags`` alone,
which keeps each resource's provider and life beside its tags (migration 0023).

The same rows sum the edges of living resources (``edges``), the count of the
``resource-relationships/`` list unless it is filtered by source, target or type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..db.models import Provider, Resource, ResourceCount
from .queries import ResourceFilter, few_ids
from .tags import tagged_ids


def counted(session: Session, filters: ResourceFilter) -> int | None:
    """The number of resources ``filters`` select, or None when ``resource_counts``
    cannot say."""
    if filters.search or filters.tags or "" in (filters.os_type, filters.region):
        return None  # '' stands for NULL in resource_counts
    query = select(func.coalesce(func.sum(ResourceCount.n), 0))
    if filters.providers is not None:
        query = query.where(ResourceCount.provider_id.in_(filters.providers))
    if filters.provider is not None:
        query = query.where(ResourceCount.provider_id == filters.provider)
    if filters.vendor is not None:
        of_vendor = select(Provider.id).where(Provider.vendor == filters.vendor)
        query = query.where(ResourceCount.provider_id.in_(of_vendor))
    for column, value in (
        (ResourceCount.resource_type, filters.resource_type),
        (ResourceCount.state, filters.state),
        (ResourceCount.os_type, filters.os_type),
        (ResourceCount.region, filters.region),
    ):
        if value is not None:
            query = query.where(column == value)
    if not filters.include_deleted:
        query = query.where(ResourceCount.deleted.is_(False))
    return int(session.scalar(query) or 0)


def listed(
    session: Session, filters: ResourceFilter, query: Select[Any]
) -> tuple[int, list[int] | None]:
    """The count of the resource list ``query`` selects by ``filters``, and its ids when
    they were counted one by one (``few_ids``: a search's or a tag's few matches, in id
    order, every page of the list); else None."""
    total = counted(session, filters)
    if total is not None:
        return total, None
    ids = _tagged(filters)
    if ids is None:
        ids = query.with_only_columns(Resource.id).order_by(Resource.id)
    few = few_ids(session, ids)
    if few is not None:
        return len(few), few
    return int(
        session.scalar(select(func.count()).select_from(ids.order_by(None).subquery())) or 0
    ), None


def _tagged(filters: ResourceFilter) -> Select[Any] | None:
    """The ids of a list filtered by tags and by provider and the caller's
    organizations alone, from ``resource_tags`` alone (``tags.tagged_ids``); None for
    any other list."""
    alone = ResourceFilter(
        provider=filters.provider,
        providers=filters.providers,
        include_deleted=filters.include_deleted,
        tags=filters.tags,
    )
    if not filters.tags or filters != alone:
        return None
    return tagged_ids(filters.tags, filters.providers, filters.provider, filters.include_deleted)


def edges_counted(session: Session, provider: int | None, providers: tuple[int, ...] | None) -> int:
    """The number of edges the living resources declare: of ``provider`` when given,
    of ``providers`` (those the caller may see; None: all)."""
    query = select(func.coalesce(func.sum(ResourceCount.edges), 0)).where(
        ResourceCount.deleted.is_(False)
    )
    if provider is not None:
        query = query.where(ResourceCount.provider_id == provider)
    if providers is not None:
        query = query.where(ResourceCount.provider_id.in_(providers))
    return int(session.scalar(query) or 0)
