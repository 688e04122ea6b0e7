"""What a provider list shows besides the provider rows: resource and schedule counts,
the last run's status."""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import CollectionRun, CollectionSchedule, ResourceCount


class ProviderStat(NamedTuple):
    resource_count: int
    last_collection_status: str | None
    schedule_count: int


ProviderStats = dict[int, ProviderStat]
"""Per provider id."""


def provider_stats(session: Session, provider_ids: Collection[int]) -> ProviderStats:
    """The stats of a page of providers in three grouped queries, whatever its size.

    ``resource_count`` counts the resources not deleted (from ``resource_counts``,
    a few rows per provider); the last status is that of the provider's
    newest run (runs' ids grow with their creation).
    """
    if not provider_ids:
        return {}
    counted = session.execute(
        select(ResourceCount.provider_id, func.sum(ResourceCount.n))
        .where(ResourceCount.provider_id.in_(provider_ids), ResourceCount.deleted.is_(False))
        .group_by(ResourceCount.provider_id)
    )
    counts = {pid: int(n) for pid, n in counted}
    newest = (
        select(func.max(CollectionRun.id))
        .where(CollectionRun.provider_id.in_(provider_ids))
        .group_by(CollectionRun.provider_id)
    )
    latest = session.execute(
        select(CollectionRun.provider_id, CollectionRun.status).where(CollectionRun.id.in_(newest))
    )
    statuses = {pid: status for pid, status in latest}
    scheduled = session.execute(
        select(CollectionSchedule.provider_id, func.count())
        .where(CollectionSchedule.provider_id.in_(provider_ids))
        .group_by(CollectionSchedule.provider_id)
    )
    schedules = {pid: int(n) for pid, n in scheduled}
    return {
        pid: ProviderStat(counts.get(pid, 0), statuses.get(pid), schedules.get(pid, 0))
        for pid in provider_ids
    }
