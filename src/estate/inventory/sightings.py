"""Compact sightings: what ingest writes when a resource's observed values change.

A sighting is one observation of a resource (its state, power state, boot time,
size and metrics) and the runs that saw it unchanged. The current one lives in the
resource row (``sighting_*``) and its ``resource_seen`` row (``seen_count``,
``last_seen_*``), so an unchanged resource costs one integer increment in the
statement that touches it anyway; a
sighting row is written only when the observation ends (a value changed, or the
resource came back after a deletion), already complete: first and last run and time,
and how many runs saw it. queries.py reads both as one list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    Subquery,
    case,
    func,
    literal,
    select,
    union_all,
)

from ..db.models import CollectionRun, Resource, ResourceSeen, ResourceSighting
from .records import DATA_COLUMNS

OBSERVED = ("state", "power_state", "boot_time", "cpu_count", "memory_mb", "disk_gb", "metrics")
_AT = tuple(DATA_COLUMNS.index(column) for column in OBSERVED)
SIGHTING_COLUMNS = (
    "resource_id",
    "seen_before",
    "run_id",
    "seen_at",
    "last_run_id",
    "last_seen_at",
    "seen_count",
    *OBSERVED,
)
# What ingest reads of a changed resource, after its values, to carry its sighting on.
TRACKING_COLUMNS = (
    "seen_count",
    "sighting_run_id",
    "sighting_at",
    "sighting_seen_before",
    "first_seen_run_id",
    "first_seen_at",
    "last_seen_run_id",
    "last_seen_at",
)
# What ingest writes of a changed resource, after its values (and its new seen_count
# in resource_seen, see models.ResourceSeen).
SIGHTING_SETS = ("sighting_run_id", "sighting_at", "sighting_seen_before")


@dataclass(frozen=True, slots=True)
class Tracking:
    """A stored resource's counters, as read by ``TRACKING_COLUMNS``."""

    seen_count: int
    sighting_run_id: int | None
    sighting_at: Any  # text on SQLite, a datetime on PostgreSQL: written back as read
    sighting_seen_before: int
    first_seen_run_id: int | None
    first_seen_at: Any
    last_seen_run_id: int | None
    last_seen_at: Any


def carry_on(
    resource_id: int,
    old: Sequence[Any],
    new: Sequence[Any],
    seen: Tracking,
    *,
    restored: bool,
    run_id: int,
    now: str,
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """The sighting row that ends now (or None), and the resource's new seen count
    followed by its ``SIGHTING_SETS``.

    ``old`` and ``new`` are comparable DATA_COLUMNS values (records.comparable). A
    resource that was deleted starts a new sighting even with the same values: one
    sighting never spans runs that did not see it.
    """
    before = tuple(old[i] for i in _AT)
    if before == tuple(new[i] for i in _AT) and not restored:
        return None, (
            seen.seen_count + 1,
            seen.sighting_run_id,
            seen.sighting_at,
            seen.sighting_seen_before,
        )
    *values, metrics = before
    ended = (
        resource_id,
        seen.sighting_seen_before,
        seen.sighting_run_id if seen.sighting_at is not None else seen.first_seen_run_id,
        seen.sighting_at if seen.sighting_at is not None else seen.first_seen_at,
        seen.last_seen_run_id,
        seen.last_seen_at,
        seen.seen_count - seen.sighting_seen_before,
        *values,
        orjson.dumps(metrics).decode() if metrics else None,
    )
    return ended, (seen.seen_count + 1, run_id, now, seen.seen_count)


def retention_cutoff(days: int, now: datetime | None = None) -> str | None:
    """The ``last_seen_at`` below which ended sightings go; None keeps them all (0)."""
    if days <= 0:
        return None
    moment = (now or datetime.now(UTC)) - timedelta(days=days)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# -- reading -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SightingFilter:
    resource: int | None = None
    provider: int | None = None
    run: int | None = None
    state: str | None = None
    seen_after: datetime | None = None
    seen_before: datetime | None = None
    search: str | None = None


SIGHTING_ORDERINGS = tuple(
    f"{sign}{name}" for name in ("seen_at", "state", "cpu_count", "memory_mb") for sign in ("-", "")
)


def sighting_query(filters: SightingFilter, visible: ColumnElement[bool] | None) -> Subquery:
    """Ended sightings and current ones (from the resource rows) as one relation.

    Its columns are the API's: ``resource``, ``resource_name``, ``seen_before``,
    ``collection_run``/``seen_at`` (where the sighting began), ``last_collection_run``
    /``last_seen_at``, ``seen_count``, ``is_current`` and the observed values. A
    sighting matches ``run`` when the run falls within it, ``seen_after`` when it was
    last seen then or later, ``seen_before`` when it began then or earlier.
    """
    began = case(
        (Resource.sighting_at.is_(None), Resource.first_seen_run_id), else_=Resource.sighting_run_id
    )
    stored = select(
        ResourceSighting.resource_id.label("resource"),
        Resource.name.label("resource_name"),
        ResourceSighting.seen_before,
        ResourceSighting.run_id.label("collection_run"),
        ResourceSighting.seen_at,
        ResourceSighting.last_run_id.label("last_collection_run"),
        ResourceSighting.last_seen_at,
        ResourceSighting.seen_count,
        *(getattr(ResourceSighting, column) for column in OBSERVED),
        literal(False).label("is_current"),
    ).join(Resource, Resource.id == ResourceSighting.resource_id)
    current = select(
        Resource.id,
        Resource.name,
        Resource.sighting_seen_before,
        began,
        func.coalesce(Resource.sighting_at, Resource.first_seen_at),
        ResourceSeen.last_seen_run_id,
        ResourceSeen.last_seen_at,
        ResourceSeen.seen_count - Resource.sighting_seen_before,
        *(getattr(Resource, column) for column in OBSERVED),
        literal(True),
    ).join(ResourceSeen, ResourceSeen.resource_id == Resource.id)
    stored = stored.where(
        *_where(
            filters,
            visible,
            ResourceSighting.run_id,
            ResourceSighting.last_run_id,
            ResourceSighting.seen_at,
            ResourceSighting.last_seen_at,
            ResourceSighting.state,
        )
    )
    current = current.where(
        *_where(
            filters,
            visible,
            began,
            ResourceSeen.last_seen_run_id,
            func.coalesce(Resource.sighting_at, Resource.first_seen_at),
            ResourceSeen.last_seen_at,
            Resource.state,
        )
    )
    return union_all(stored, current).subquery("sightings")


def _where(
    filters: SightingFilter,
    visible: ColumnElement[bool] | None,
    first_run: SQLColumnExpression[Any],
    last_run: SQLColumnExpression[Any],
    first_at: SQLColumnExpression[Any],
    last_at: SQLColumnExpression[Any],
    state: SQLColumnExpression[Any],
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [] if visible is None else [visible]
    if filters.resource is not None:
        where.append(Resource.id == filters.resource)
    if filters.provider is not None:
        where.append(Resource.provider_id == filters.provider)
    if filters.run is not None:
        run_provider = select(CollectionRun.provider_id).where(CollectionRun.id == filters.run)
        where += [
            first_run <= filters.run,
            last_run >= filters.run,
            Resource.provider_id == run_provider.scalar_subquery(),
        ]
    if filters.state is not None:
        where.append(state == filters.state)
    if filters.seen_after is not None:
        where.append(last_at >= filters.seen_after)
    if filters.seen_before is not None:
        where.append(first_at <= filters.seen_before)
    if filters.search:
        escaped = filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Resource.name.ilike(f"%{escaped}%", escape="\\"))
    return where


def ordered(sightings: Subquery, ordering: str) -> Select[Any]:
    """``sightings`` in the order ``ordering`` names (a SIGHTING_ORDERINGS), newest first
    among equals."""
    column = sightings.c[ordering.lstrip("-")]
    # Empty values sort as the smallest on both backends (PostgreSQL's default is the
    # largest).
    first = column.desc().nulls_last() if ordering.startswith("-") else column.asc().nulls_first()
    tie = (sightings.c.seen_at.desc(), sightings.c.resource.desc(), sightings.c.seen_before.desc())
    return select(sightings).order_by(first, *tie)


def sighting_item(row: Any) -> dict[str, Any]:
    """One row of the relation in the API's shape; its id names resource and ordinal."""
    item = dict(row._mapping)
    item["id"] = f"{item['resource']}-{item['seen_before']}"
    item["is_current"] = bool(item["is_current"])
    item["metrics"] = item["metrics"] or {}
    return item
