"""Where a deep numbered page starts: the block of ids that holds its first row.

``resource_blocks`` (kept by triggers, migration 0022) says how many resources, and
how many edges, each block of ``ResourceBlock.SIZE`` ids holds per provider. Summed
in id order up to the page's offset, it names the block holding the page's first
row and how many rows come before that block, so the page's walk starts at the
block: it skips at most a block's rows, whatever the page's depth. An OFFSET
skipped every row before the page (linear in the page number).

It answers lists whose rows are exactly a set of providers' resources in id order:
the resource list filtered by provider and the caller's organizations alone, and
``resource-relationships/`` (its edges, by source id) likewise. A shallow page
(offset below ``SHALLOW``) is left to the OFFSET alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..db.models import Resource, ResourceBlock
from .queries import ResourceFilter, ordered

SHALLOW = ResourceBlock.SIZE
"""Offsets below this are skipped by the database's OFFSET alone: within the first
block, the walk from the block's start would skip as many entries."""


@dataclass(frozen=True, slots=True)
class Start:
    """Where a page's walk begins: at ``first_id``, with ``before`` rows (or edges) of
    the list ahead of it."""

    first_id: int
    before: int


def block_start(
    session: Session,
    offset: int,
    providers: tuple[int, ...] | None,
    provider: int | None = None,
    include_deleted: bool = False,
    edges: bool = False,
) -> Start | None:
    """The start of the block holding the ``offset``-th row (0-based) of a list of the
    resources of ``providers`` (None: all) and ``provider``, deleted ones only when
    ``include_deleted``; of their edges when ``edges``. None when the list is shorter."""
    measure = ResourceBlock.edges if edges else ResourceBlock.n
    per_block = select(ResourceBlock.block, func.sum(measure).label("here")).group_by(
        ResourceBlock.block
    )
    if providers is not None:
        per_block = per_block.where(ResourceBlock.provider_id.in_(providers))
    if provider is not None:
        per_block = per_block.where(ResourceBlock.provider_id == provider)
    if not include_deleted or edges:  # the relationship list shows living sources only
        per_block = per_block.where(ResourceBlock.deleted.is_(False))
    blocks = per_block.subquery()
    running = select(
        blocks.c.block,
        blocks.c.here,
        (func.sum(blocks.c.here).over(order_by=blocks.c.block) - blocks.c.here).label("before"),
    ).subquery()
    found = session.execute(
        select(running.c.block, running.c.before)
        .where(running.c.before + running.c.here > offset)
        .order_by(running.c.block)
        .limit(1)
    ).first()
    if found is None:
        return None
    return Start(int(found.block) * ResourceBlock.SIZE, int(found.before))


def numbered_ids(
    session: Session,
    query: Select[Any],
    filters: ResourceFilter,
    offset: int,
    limit: int,
    order: list[Any] | None = None,
) -> Select[Any] | list[int]:
    """The ids of the numbered page at ``offset`` of the resource list ``query``
    selects by ``filters``, in ``order`` (None: by id). They come from a narrow index,
    not whole rows, and in id order from the block holding the page's first row on
    (``block_start``), whatever the page's depth, when the blocks can say; [] when
    the page is past the list's end."""
    window = ordered(query.with_only_columns(Resource.id), order or [Resource.id.asc()])
    if order is None and offset >= SHALLOW and _in_blocks(filters):
        start = block_start(
            session, offset, filters.providers, filters.provider, filters.include_deleted
        )
        if start is None:
            return []
        window = window.where(Resource.id >= start.first_id)
        offset -= start.before
    return window.offset(offset).limit(limit)


def _in_blocks(filters: ResourceFilter) -> bool:
    """Whether ``resource_blocks`` can place a page of the list ``filters`` select (in
    id order): filtered by provider and the caller's organizations alone."""
    kept = ResourceFilter(
        provider=filters.provider,
        providers=filters.providers,
        include_deleted=filters.include_deleted,
    )
    return filters == kept
