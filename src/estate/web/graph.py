"""A neighbourhood drawn as inline SVG: the resource in the middle, its neighbours on a
ring around it, theirs on an outer ring, each near the neighbour that led to it.

Pure geometry (no database, no browser library): the page ships the picture, and a few
lines of estate.js light a node's edges on hover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..inventory.neighbourhood import Neighbour, Neighbourhood

NODE_RADIUS = 11
_RING = (150.0, 150.0)  # the least radius of ring 1, and the least gap to ring 2
_PER_NODE = (100.0, 50.0)  # room along its ring each node of ring 1, ring 2 gets
_MARGIN = 90.0  # room for the outer ring's labels
_LABEL = 22  # characters of a node's name shown under it


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    depth: int
    x: float
    y: float
    label: str
    name: str
    resource_type: str


@dataclass(frozen=True, slots=True)
class Edge:
    source: int
    target: int
    relationship_type: str
    x1: float
    y1: float
    x2: float
    y2: float
    label_x: float
    label_y: float
    title: str


@dataclass(frozen=True, slots=True)
class Drawing:
    current: int
    nodes: list[Node]
    edges: list[Edge]
    size: float  # the square viewBox's side; (0, 0) is its middle
    hidden: int
    exact: bool
    radius: int = NODE_RADIUS


def _angles(count: int, offset: float = -math.pi / 2) -> list[float]:
    return [offset + 2 * math.pi * i / count for i in range(count)]


def _label(resource: Neighbour) -> str:
    text = resource.name or resource.ems_ref
    return text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"


def _radii(first: int, second: int) -> tuple[float, float, float]:
    """Each ring's radius: wide enough for its nodes, ring 2 well outside ring 1."""
    inner = max(_RING[0], first * _PER_NODE[0] / (2 * math.pi))
    return 0.0, inner, max(inner + _RING[1], second * _PER_NODE[1] / (2 * math.pi))


def layout(found: Neighbourhood) -> Drawing:
    """Where each resource of ``found`` sits, and each edge's line and label."""
    center, first, second = found.rings
    radius = _radii(len(first), len(second))
    angle: dict[int, float] = {center[0].id: 0.0}
    angle.update(zip((r.id for r in first), _angles(len(first)), strict=True))
    # The outer ring in the order of the inner one, so each sits near its parent.
    order = {r.id: i for i, r in enumerate(first)}
    second = sorted(second, key=lambda r: (order.get(found.parent.get(r.id, 0), 0), r.id))
    if second and first:
        # Evenly spaced, in groups by parent; the first group centred on its parent.
        first_group = sum(
            1 for r in second if found.parent.get(r.id) == found.parent.get(second[0].id)
        )
        parent = found.parent.get(second[0].id, first[0].id)
        start = angle.get(parent, 0.0) - (first_group - 1) * math.pi / len(second)
        angle.update(zip((r.id for r in second), _angles(len(second), start), strict=True))
    else:
        angle.update(zip((r.id for r in second), _angles(len(second)), strict=True))
    nodes = []
    place: dict[int, tuple[float, float]] = {}
    for depth, ring in enumerate((center, first, second)):
        for resource in ring:
            a = angle[resource.id]
            x, y = radius[depth] * math.cos(a), radius[depth] * math.sin(a)
            place[resource.id] = (x, y)
            name = resource.name or resource.ems_ref
            nodes.append(
                Node(resource.id, depth, round(x, 1), round(y, 1), _label(resource), name,
                     resource.resource_type)
            )  # fmt: skip
    names = {n.id: n.name for n in nodes}
    edges = [
        _edge(link.source, link.target, link.relationship_type, place, names)
        for link in found.links
    ]
    size = 2 * (radius[2 if second else 1 if first else 0] + _MARGIN)
    return Drawing(center[0].id, nodes, edges, size, found.hidden, found.exact)


def _edge(
    source: int,
    target: int,
    kind: str,
    place: dict[int, tuple[float, float]],
    names: dict[int, str],
) -> Edge:
    (x1, y1), (x2, y2) = place[source], place[target]
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    # Stop short of both circles, so the arrowhead shows at the target's rim.
    dx, dy = (x2 - x1) / length, (y2 - y1) / length
    gap = NODE_RADIUS + 2
    return Edge(
        source, target, kind,
        round(x1 + dx * gap, 1), round(y1 + dy * gap, 1),
        round(x2 - dx * gap, 1), round(y2 - dy * gap, 1),
        round((x1 + x2) / 2, 1), round((y1 + y2) / 2 - 3, 1),
        f"{names[source]} {kind} {names[target]}",
    )  # fmt: skip
