"""What changes between two versions' manifests: the upgrade preview's diff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def manifest_diff(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    old_actions: Sequence[str] = (),
    new_actions: Sequence[str] = (),
    old_requirements: Sequence[str] = (),
    new_requirements: Sequence[str] = (),
) -> dict[str, Any]:
    """Resource types, connection parameters, profiles, requirements and actions added,
    removed or changed from ``old`` (None: nothing resolved before) to ``new``."""
    before: Mapping[str, Any] = old or {}
    return {
        "resource_types": _sets(
            before.get("supported_resource_types"), new.get("supported_resource_types")
        ),
        "connection_parameters": _parameters(
            before.get("connection_parameters") or [], new.get("connection_parameters") or []
        ),
        "profiles": _sets(before.get("profiles"), new.get("profiles")),
        "requirements": {
            **_sets(old_requirements, new_requirements),
            "manifest": _changed(before, new, ("dependencies", "requires_python")),
        },
        "compatibility": _changed(before, new, ("requires_estate", "protocol_versions")),
        "actions": _sets(old_actions, new_actions),
    }


def _sets(old: Any, new: Any) -> dict[str, list[str]]:
    was, now = set(old or ()), set(new or ())
    return {"added": sorted(now - was), "removed": sorted(was - now)}


def _parameters(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    was = {p["name"]: p for p in old if isinstance(p, dict) and "name" in p}
    now = {p["name"]: p for p in new if isinstance(p, dict) and "name" in p}
    changed = [
        {"name": name, "from": was[name], "to": now[name]}
        for name in sorted(was.keys() & now.keys())
        if was[name] != now[name]
    ]
    newly_required = sorted(
        name
        for name, spec in now.items()
        if _required(spec) and not (name in was and _required(was[name]))
    )
    return {
        **_sets(was, now),
        "changed": changed,
        "newly_required": newly_required,
    }


def _required(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("required")) and spec.get("default") is None


def _changed(
    old: Mapping[str, Any], new: Mapping[str, Any], keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    return {
        key: {"from": old.get(key), "to": new.get(key)}
        for key in keys
        if old.get(key) != new.get(key)
    }
