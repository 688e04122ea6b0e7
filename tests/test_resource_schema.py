"""One resource schema: its fields agree wherever they are written.

A resource's fields are declared in four places that cannot be derived from one
another without hurting speed or readability: the SDK's ``ResourceData`` (its checks
follow from its annotations), the service's ``WireResource`` (msgspec), the
``Resource`` model (SQLAlchemy) and ``ResourcePublic`` (the API). This test fails when
a field is in one and not the others, or has another kind there. The known
differences are listed here, by name.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import msgspec
import pytest
from sqlalchemy import JSON, Float, Integer, String

from estate.api.routes.resources import _fields
from estate.api.schemas import ResourceDetail, ResourcePublic
from estate.db.models import Resource
from estate.inventory.records import WireRelationship, WireResource
from inventory_providers.resource import FIELD_KINDS, ResourceData

# The SDK's and the wire's name → the column's and the API's name.
RENAMED = {"resource_type_slug": "resource_type"}
# Columns the service keeps about a resource; no plugin sends them.
SERVICE_COLUMNS = {
    "id",
    "provider_id",
    "content_hash",
    "first_seen_run_id",
    "first_seen_at",
    "last_seen_run_id",
    "last_seen_at",
    "updated_at",
    "deleted_at",
}
# Sightings (docs/collection.md): how often it was seen, and the observation now.
SERVICE_COLUMNS |= {"seen_count", "sighting_at", "sighting_run_id", "sighting_seen_before"}
# What the API shows besides the plugin's fields.
API_ONLY = {"id", "provider", "first_seen_at", "last_seen_at", "updated_at", "deleted_at"}
API_ONLY |= {"is_deleted"}
# User tags (tags/, resource_tags): people give them, no plugin sends them.
API_ONLY |= {"tags"}
# The UIS's names and what its clients read without a second call (provider, type).
API_ONLY |= {"resource_type_slug", "resource_type_name", "provider_name", "organization"}
API_ONLY |= {"first_discovered_at", "seen_count", "last_seen_run"}
# Shown by the detail (ResourceDetail) only, from the reverse index.
DETAIL_ONLY = {"relationships", "relationships_complete"}

# kind → the column type, the API's type, the wire's types (Annotated and None aside).
COLUMN_OF_KIND: dict[str, type] = {
    "ref": String,
    "slug": String,
    "state": String,
    "text": String,
    "time": String,
    "count": Integer,
    "size": Float,
    "object": JSON,
    "strings": JSON,
    "relationships": JSON,
}
API_OF_KIND: dict[str, Any] = {
    "ref": str,
    "slug": str,
    "state": str,
    "text": str | None,
    "time": str | None,
    "count": int | None,
    "size": float | None,
    "object": dict[str, Any],
    "strings": list[str],
}
WIRE_OF_KIND: dict[str, set[Any]] = {
    "ref": {str, int},
    "slug": {str},
    "state": {typing.Literal},
    "text": {str},
    "time": {str},
    "count": {int},
    "size": {float},
    "object": {msgspec.Raw},
    "strings": {list[str]},
    "relationships": {list[WireRelationship]},
}


def _sdk() -> set[str]:
    return set(ResourceData.FIELDS)


def _renamed(names: set[str]) -> set[str]:
    return {RENAMED.get(name, name) for name in names}


def _columns() -> dict[str, Any]:
    return {column.key: column for column in Resource.__table__.columns}


def _wire_types(annotation: Any) -> set[Any]:
    """The types a wire field accepts, without ``Annotated`` constraints and ``None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _wire_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_wire_types(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {typing.Literal}
    return set() if annotation is type(None) else {annotation}


def test_the_sdk_checks_every_field_by_its_kind() -> None:
    assert list(FIELD_KINDS) == [field.name for field in dataclasses.fields(ResourceData)]
    assert set(FIELD_KINDS.values()) <= set(COLUMN_OF_KIND)


def test_the_wire_has_the_sdks_fields() -> None:
    assert set(WireResource.__struct_fields__) == _sdk()


def test_the_model_has_a_column_per_field_and_the_services_own() -> None:
    assert set(_columns()) == _renamed(_sdk()) | SERVICE_COLUMNS


def test_the_api_shows_every_field_but_the_edges_and_the_services_own() -> None:
    assert set(ResourcePublic.model_fields) == _renamed(_sdk()) - DETAIL_ONLY | API_ONLY
    assert set(ResourceDetail.model_fields) - set(ResourcePublic.model_fields) == DETAIL_ONLY


@pytest.mark.parametrize("name", sorted(FIELD_KINDS))
def test_a_field_has_one_kind_everywhere(name: str) -> None:
    kind = FIELD_KINDS[name]
    column = _columns()[RENAMED.get(name, name)]
    wire = {info.name: info.type for info in msgspec.structs.fields(WireResource)}[name]

    assert isinstance(column.type, COLUMN_OF_KIND[kind]), column.type
    assert column.nullable == (kind not in ("ref", "slug", "state"))
    assert _wire_types(wire) == WIRE_OF_KIND[kind]
    if name not in DETAIL_ONLY:
        shown = ResourcePublic.model_fields[RENAMED.get(name, name)].annotation
        assert shown == API_OF_KIND[kind]


def test_the_route_fills_exactly_the_apis_fields() -> None:
    row = Resource(id=1, provider_id=2, ems_ref="vm-1", resource_type="virtual_machine")

    shown = _fields(row, {2: ("dc", 1)})

    assert set(shown) == set(ResourcePublic.model_fields)
    assert shown["provider"] == 2
    assert shown["ip_addresses"] == [] and shown["properties"] == {}
