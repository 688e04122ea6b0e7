"""The words plugins and the service share: resource states, relationship types, severities."""

from __future__ import annotations

__all__ = ["EVENT_SEVERITIES", "RELATIONSHIP_TYPES", "STATES"]

STATES = frozenset(
    {
        "active",
        "inactive",
        "running",
        "stopped",
        "suspended",
        "provisioning",
        "terminated",
        "decommissioned",
        "error",
        "unknown",
    }
)
"""The states a resource may be in (``ResourceData.state``)."""

RELATIONSHIP_TYPES = frozenset(
    {
        "runs_on",
        "part_of",
        "member_of",
        "attached_to",
        "connected_to",
        "managed_by",
        "contains",
        "depends_on",
        "load_balances",
        "routes_to",
        "backs_up",
        "replicates_to",
    }
)
"""The kinds of edge a resource may have to another (``Relationship.relationship_type``)."""

EVENT_SEVERITIES = ("debug", "info", "warning", "error", "critical")
"""The severities an event may have, least severe first."""
