"""A resource's neighbourhood: the resources around it to depth 2 and the typed edges
between them, bounded whatever the degree (an ESXi host has 10,000 edges).

Both ends of an edge are ``ems_ref``s of one provider (see queries.relationships_of),
so a neighbourhood never leaves the resource's provider, hence its organization.
Each depth costs two indexed queries: the reverse index (``resource_relationships``,
one range of its primary key ``(provider_id, target_ems_ref, …)`` per resource of the
ring, each cut at its share of the budget) for who points at the ring, then the rows
of the ring's candidates through the ``(provider_id, ems_ref)`` unique index. Outgoing edges come from the rows already
read (their ``relationships`` column). Deleted resources are left out, as they are of
relationships_of's incoming edges; so are ends that were never collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ..db.models import Resource, ResourceRelationship

MAX_NODES = 60
_SLACK = 2  # candidates read per free place: some are deleted or were never collected


@dataclass(frozen=True, slots=True)
class Neighbour:
    """What a drawing needs of a resource (plain columns: no ORM row, no properties)."""

    id: int
    ems_ref: str
    name: str | None
    resource_type: str
    relationships: list[list[str]] | None


_COLUMNS = (Resource.id, Resource.ems_ref, Resource.name, Resource.resource_type,
            Resource.relationships)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Link:
    """An edge as its source declares it: ``source`` ``relationship_type`` ``target``."""

    source: int
    target: int
    relationship_type: str


@dataclass
class Neighbourhood:
    """``rings[0]`` is the resource, ``rings[1]`` and ``rings[2]`` its neighbours.

    ``parent`` names, for each resource of ring 2, the one of ring 1 that led to it.
    ``hidden`` counts neighbours found but not kept (the cap); ``exact`` is False when
    the reverse index was cut, so more may exist than ``hidden`` says.
    """

    rings: list[list[Neighbour]]
    links: list[Link]
    parent: dict[int, int] = field(default_factory=dict)
    hidden: int = 0
    exact: bool = True

    @property
    def size(self) -> int:
        return sum(len(ring) for ring in self.rings)


def neighbourhood(session: Session, resource: Resource, limit: int = MAX_NODES) -> Neighbourhood:
    """The resource's neighbours to depth 2, at most ``limit`` resources in all."""
    center = Neighbour(*(getattr(resource, c.key) for c in _COLUMNS))
    shown: dict[str, Neighbour] = {center.ems_ref: center}
    found = Neighbourhood(rings=[[center], [], []], links=[])
    frontier = [center]
    for depth in (1, 2):
        budget = limit - len(shown)
        if budget <= 0:  # the cap is reached: ring 2 is not even looked for
            found.hidden += len({t for row in frontier for t, _ in _declared(row)} - set(shown))
            found.exact = False
            break
        # Who each candidate came from: the ring-(depth-1) resource it touches.
        via: dict[str, Neighbour] = {}
        for row in frontier:
            for target, _ in row.relationships or ():
                if target not in shown:
                    via.setdefault(target, row)
        reach = budget * _SLACK + len(shown)
        pointing, cut = _pointing(session, resource.provider_id, frontier, reach)
        for target, source in pointing:
            if source not in shown:
                via.setdefault(source, shown[target])
        window = list(via)[: budget * _SLACK + 1]
        ring = _resolve(session, resource.provider_id, window)
        kept = ring[:budget]
        found.hidden += len(ring) - len(kept) + len(via) - len(window)
        if depth == 1 and cut:  # one range of the index counts those not read
            found.hidden += _incoming_count(session, resource) - len(pointing)
        found.exact = found.exact and not (cut and depth == 2)
        for row in kept:
            shown[row.ems_ref] = row
            if depth == 2:
                found.parent[row.id] = via[row.ems_ref].id
        found.rings[depth] = kept
        frontier = kept
    found.links = _links(shown)
    return found


def _pointing(
    session: Session, provider_id: int, targets: Sequence[Neighbour], limit: int
) -> tuple[list[tuple[str, str]], bool]:
    """``(target_ems_ref, source_ems_ref)`` of edges into ``targets``: each target's
    equal share of ``limit``, read as its own range of the index (an ``IN`` with an
    ``ORDER BY`` would sort every edge of a 10,000-VM host first), interleaved so that
    every target gets neighbours; and whether some target had more."""
    if not targets or limit <= 0:
        return [], bool(targets)
    share = -(-limit // len(targets))
    edges = ResourceRelationship
    ranges = [
        select(edges.target_ems_ref, edges.source_ems_ref)
        .where(edges.provider_id == provider_id, edges.target_ems_ref == target.ems_ref)
        .order_by(edges.source_ems_ref)
        .limit(share + 1)
        .subquery()
        for target in targets
    ]
    rows = session.execute(
        union_all(*(select(r.c.target_ems_ref, r.c.source_ems_ref) for r in ranges))
    ).all()
    by_target: dict[str, list[str]] = {t.ems_ref: [] for t in targets}
    for target_ref, source_ref in rows:
        by_target[target_ref].append(source_ref)
    cut = any(len(sources) > share for sources in by_target.values())
    columns = [[(t, s) for s in sources[:share]] for t, sources in by_target.items()]
    interleaved = [pair for rank in zip_longest(*columns) for pair in rank if pair is not None]
    return interleaved, cut


def _incoming_count(session: Session, resource: Resource) -> int:
    """How many resources point at ``resource`` (one range of the reverse index)."""
    count = session.scalar(
        select(func.count()).where(
            ResourceRelationship.provider_id == resource.provider_id,
            ResourceRelationship.target_ems_ref == resource.ems_ref,
        )
    )
    return int(count or 0)


def _resolve(session: Session, provider_id: int, refs: Sequence[str]) -> list[Neighbour]:
    """The live resources of ``refs``, in the order of ``refs``."""
    if not refs:
        return []
    rows = session.execute(
        select(*_COLUMNS).where(
            Resource.provider_id == provider_id,
            Resource.ems_ref.in_(refs),
            Resource.deleted_at.is_(None),
        )
    ).all()
    by_ref = {row.ems_ref: Neighbour(*row) for row in rows}
    return [by_ref[ref] for ref in refs if ref in by_ref]


def _links(shown: dict[str, Neighbour]) -> list[Link]:
    """Every edge whose both ends are shown, once, as its source declares it."""
    links: dict[tuple[int, int, str], Link] = {}
    for row in shown.values():
        for target, kind in _declared(row):
            other = shown.get(target)
            if other is not None and other.id != row.id:
                links.setdefault((row.id, other.id, kind), Link(row.id, other.id, kind))
    return list(links.values())


def _declared(row: Neighbour) -> Iterable[tuple[str, str]]:
    return ((str(target), str(kind)) for target, kind in row.relationships or ())
