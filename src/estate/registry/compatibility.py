"""Whether this service can run a plugin version: its manifest's ``requires_estate``
(a range over Estate's version) and ``protocol_versions`` (the wire-protocol versions
it speaks), and an administrator's override of a failed check.

Checked when a version is read, not only when it is stored: an upgrade of Estate
itself may make a stored version compatible, or incompatible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory_providers.protocol import PROTOCOL_VERSIONS

from .. import __version__
from ..db.models import PluginVersion
from .policy import PolicyError, parse_policy


def problems_of(manifest: Mapping[str, Any]) -> list[str]:
    """What this service lacks to run a version of ``manifest``; empty when nothing."""
    problems = []
    required = manifest.get("requires_estate")
    if isinstance(required, str):
        try:
            met = parse_policy(required).matches(__version__)
        except PolicyError as exc:  # stored before the check existed: say so
            problems.append(f"requires_estate: {exc}")
        else:
            if not met:
                problems.append(f"requires_estate {required!r} is not met by Estate {__version__}")
    spoken = manifest.get("protocol_versions")
    if isinstance(spoken, list) and not set(spoken) & set(PROTOCOL_VERSIONS):
        problems.append(
            f"protocol_versions {spoken} share none with the service's {list(PROTOCOL_VERSIONS)}"
        )
    return problems


def is_usable(version: PluginVersion) -> bool:
    """Whether ``version`` may be resolved: compatible, or overridden by an administrator."""
    return bool(version.compatibility_override) or not problems_of(version.manifest)


def compatibility(version: PluginVersion) -> dict[str, Any]:
    """The ``compatibility`` object of the versions API."""
    problems = problems_of(version.manifest)
    return {
        "compatible": not problems,
        "problems": problems,
        "requires_estate": version.manifest.get("requires_estate"),
        "protocol_versions": version.manifest.get("protocol_versions"),
        "estate_version": __version__,
        "service_protocol_versions": list(PROTOCOL_VERSIONS),
        "override": version.compatibility_override,
        "override_reason": version.compatibility_override_reason,
        "override_by": version.compatibility_override_by,
        "override_at": version.compatibility_override_at,
        "usable": not problems or bool(version.compatibility_override),
    }
