"""From a plugin's wire record to a resource row: validation, columns, content hash, diff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Any

import orjson
from inventory_providers.base import ResourceValidationError, validate_record

from . import taxonomy

# Columns filled from a record, in the order rows are built (the wire name of
# ``resource_type`` is ``resource_type_slug``).
DATA_COLUMNS: tuple[str, ...] = (
    "resource_type",
    "name",
    "description",
    "canonical_id",
    "vendor_identifiers",
    "vendor_type",
    "state",
    "power_state",
    "boot_time",
    "region",
    "availability_zone",
    "cloud_tenant",
    "flavor",
    "cpu_count",
    "memory_mb",
    "disk_gb",
    "ip_addresses",
    "fqdn",
    "mac_addresses",
    "os_type",
    "os_name",
    "properties",
    "provider_tags",
    "ansible_host",
    "ansible_connection",
    "inventory_group",
    "ems_created_on",
    "relationships",
    "metrics",
)
JSON_COLUMNS = frozenset(
    {
        "vendor_identifiers",
        "ip_addresses",
        "mac_addresses",
        "properties",
        "provider_tags",
        "relationships",
        "metrics",
    }
)
# Dict columns whose changes are reported key by key ("properties.owner").
KEYED_COLUMNS = frozenset({"vendor_identifiers", "properties", "provider_tags", "metrics"})
_WIRE_NAMES = tuple("resource_type_slug" if c == "resource_type" else c for c in DATA_COLUMNS)
_JSON_INDEXES = tuple(i for i, c in enumerate(DATA_COLUMNS) if c in JSON_COLUMNS)


class Record:
    """One validated resource: its ``ems_ref``, column values and content hash."""

    __slots__ = ("content_hash", "ems_ref", "values")

    def __init__(self, ems_ref: str, values: tuple[Any, ...], content_hash: str) -> None:
        self.ems_ref = ems_ref
        self.values = values
        self.content_hash = content_hash

    @property
    def relationships(self) -> list[dict[str, str]]:
        return self.values[DATA_COLUMNS.index("relationships")] or []

    def sql_values(self) -> list[Any]:
        """Column values with JSON columns serialised, ready for a driver."""
        values = list(self.values)
        for i in _JSON_INDEXES:
            if values[i] is not None:
                values[i] = orjson.dumps(values[i]).decode()
        return values


def to_record(data: Any, allowed_types: frozenset[str] | None = None) -> Record:
    """Validate one wire record; raises ``ResourceValidationError`` naming the field."""
    wire = validate_record(data)
    slug = wire["resource_type_slug"]
    if not taxonomy.is_known(slug):
        raise ResourceValidationError("resource_type_slug", f"unknown resource type {slug!r}")
    if allowed_types is not None and slug not in allowed_types:
        raise ResourceValidationError(
            "resource_type_slug", f"type {slug!r} is not in the plugin's supported_resource_types"
        )
    digest = blake2b(orjson.dumps(wire, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
    if "state" not in wire:
        wire["state"] = "unknown"
    return Record(wire["ems_ref"], tuple(map(wire.get, _WIRE_NAMES)), digest)


def stored_values(row: Sequence[Any]) -> tuple[Any, ...]:
    """Column values as read back from the database, JSON parsed, empties as None."""
    values = list(row)
    for i in _JSON_INDEXES:
        if isinstance(values[i], str | bytes):
            values[i] = orjson.loads(values[i])
        if values[i] in ({}, []):
            values[i] = None
    return tuple(values)


def diff(old: Sequence[Any], new: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for every column that differs."""
    changes: dict[str, dict[str, Any]] = {}
    for column, before, after in zip(DATA_COLUMNS, old, new, strict=True):
        if before == after:
            continue
        if column in KEYED_COLUMNS and (before is None or isinstance(before, Mapping)):
            _diff_keys(column, before or {}, after or {}, changes)
        else:
            changes[column] = {"from": before, "to": after}
    return changes


def _diff_keys(
    column: str, before: Mapping[str, Any], after: Mapping[str, Any], out: dict[str, Any]
) -> None:
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) or (key in before) != (key in after):
            out[f"{column}.{key}"] = {"from": before.get(key), "to": after.get(key)}
