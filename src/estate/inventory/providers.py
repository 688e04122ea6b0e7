"""What a provider list shows besides the provider rows: resource counts, last status."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import CollectionRun, Resource

ProviderStats = dict[int, tuple[int, str | None]]
"""Per provider id: ``(resource_count, last_collection_status)``."""


def provider_stats(session: Session, provider_ids: Collection[int]) -> ProviderStats:
    """The stats of a page of providers in two grouped queries, whatever its size.

    ``resource_count`` counts the resources not deleted (the index on
    ``(provider_id, ems_ref)`` serves it); the last status is that of the provider's
    newest run (runs' ids grow with their creation).
    """
    if not provider_ids:
        return {}
    counted = session.execute(
        select(Resource.provider_id, func.count())
        .where(Resource.provider_id.in_(provider_ids), Resource.deleted_at.is_(None))
        .group_by(Resource.provider_id)
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
    return {pid: (counts.get(pid, 0), statuses.get(pid)) for pid in provider_ids}
