"""Read the change feed: every stored change of every resource, newest first.

The UIS calls these rows drift (``resource-drift/``); Estate's history is the same
rows per resource. ``created`` is not drift (the UIS has no such type, and Estate
stores none: history derives it from the resource row). "What changed in this run"
and "what changed since" are each one range of an index of ``resource_changes``
(``(run_id, id)``, ``changed_at``); newest first is the id order, which is the order
the changes were detected in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, aliased

from ..db.models import CollectionRun, Provider, Resource, ResourceChange

DRIFT_TYPES = ("modified", "deleted", "restored")
ORDERINGS = ("-detected_at", "detected_at", "drift_type", "-drift_type")

_Run = aliased(CollectionRun)
_Previous = aliased(CollectionRun)


@dataclass(frozen=True, slots=True)
class DriftFilter:
    resource: int | None = None
    provider: int | None = None
    resource_type: str | None = None
    run: int | None = None
    drift_type: str | None = None
    detected_after: datetime | None = None
    detected_before: datetime | None = None


def _conditions(filters: DriftFilter) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE clauses, and whether they need the resource row."""
    where: list[ColumnElement[bool]] = []
    if filters.resource is not None:
        where.append(ResourceChange.resource_id == filters.resource)
    if filters.run is not None:
        where.append(ResourceChange.run_id == filters.run)
    if filters.drift_type is not None:
        where.append(ResourceChange.kind == filters.drift_type)
    else:  # rows older than migration 0003 may still say "created"
        where.append(ResourceChange.kind != "created")
    if filters.detected_after is not None:
        where.append(ResourceChange.changed_at >= filters.detected_after)
    if filters.detected_before is not None:
        where.append(ResourceChange.changed_at <= filters.detected_before)
    needs_resource = False
    if filters.provider is not None:
        where.append(Resource.provider_id == filters.provider)
        needs_resource = True
    if filters.resource_type is not None:
        where.append(Resource.resource_type == filters.resource_type)
        needs_resource = True
    return where, needs_resource


def count_drift(session: Session, filters: DriftFilter, visible: ColumnElement[bool] | None) -> int:
    """How many changes match; joins the resources only when a filter needs them.

    ``visible``: a clause on ``Resource`` keeping what the caller may see (None: all).
    """
    where, needs_resource = _conditions(filters)
    query = select(func.count()).select_from(ResourceChange)
    if needs_resource or visible is not None:
        query = query.join(Resource, Resource.id == ResourceChange.resource_id)
    return int(session.scalar(query.where(*where, visible if visible is not None else true())) or 0)


def drift_query(
    filters: DriftFilter, visible: ColumnElement[bool] | None, ordering: str
) -> Select[*tuple[Any, ...]]:
    """The matching changes with what their items show of resource, provider and runs."""
    where, _ = _conditions(filters)
    if visible is not None:
        where.append(visible)
    query = (
        select(
            ResourceChange,
            Resource.name,
            Resource.resource_type,
            Resource.provider_id,
            Resource.ems_ref,
            Provider.name,
            _Run.started_at,
            _Previous.id,
            _Previous.started_at,
        )
        .join(Resource, Resource.id == ResourceChange.resource_id)
        .join(Provider, Provider.id == Resource.provider_id)
        .outerjoin(_Run, _Run.id == ResourceChange.run_id)
        .outerjoin(_Previous, _Previous.id == ResourceChange.previous_run_id)
        .where(*where)
    )
    newest = ResourceChange.id.desc()
    if ordering == "detected_at":
        return query.order_by(ResourceChange.id)
    if ordering == "drift_type":
        return query.order_by(ResourceChange.kind, newest)
    if ordering == "-drift_type":
        return query.order_by(ResourceChange.kind.desc(), newest)
    return query.order_by(newest)


def drift_item(row: Any) -> dict[str, Any]:
    """One row of ``drift_query`` in the UIS's field names (and Estate's ids)."""
    change, name, kind, provider, ems_ref, provider_name, started, previous, previous_at = row
    return {
        "id": change.id,
        "resource": change.resource_id,
        "resource_name": name,
        "resource_type": kind,
        "resource_type_slug": kind,
        "ems_ref": ems_ref,
        "provider": provider,
        "provider_name": provider_name,
        "collection_run": change.run_id,
        "collection_run_started_at": started,
        "previous_collection_run": previous,
        "previous_collection_run_started_at": previous_at,
        "drift_type": change.kind,
        "detected_at": change.changed_at,
        "changes": change.changes or {},
    }
