"""What each platform's own type names are in the taxonomy, and the documented properties."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from ... import taxonomy
from ...registry.vendor_types import declared_mappings
from ...taxonomy.properties import PROPERTY_DEFINITIONS, VALUE_TYPES, PropertyDefinition
from ...taxonomy.vendor_types import VendorTypeMapping, merged
from ..deps import CurrentUser, SessionDep, one_of
from ..list_pages import matches
from ..pagination import MAX_PAGE_SIZE, Page, PageNumber, page_list
from ..taxonomy_schemas import PropertyDefinitionPublic, VendorTypeMappingPublic

router = APIRouter(tags=["resource types"])

TypeFilter = Annotated[str | None, Query(description="A resource type's slug or id")]
Search = Annotated[str | None, Query(max_length=200)]
WholeList = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]


def _type_or_400(key: str) -> taxonomy.ResourceType:
    found = taxonomy.find(key)
    if found is None:
        raise HTTPException(400, detail=f"resource_type: no resource type {key!r}")
    return found


def _mapping(item: VendorTypeMapping) -> VendorTypeMappingPublic:
    return VendorTypeMappingPublic(
        id=item.id,
        vendor=item.vendor,
        vendor_resource_type=item.vendor_resource_type,
        resource_type=taxonomy.stable_id("resource_type", item.resource_type),
        resource_type_slug=item.resource_type,
        ansible_collection=item.ansible_collection,
        ansible_module=item.ansible_module,
        query_file_ref="",
        source=item.source,
    )


def _definition(item: PropertyDefinition) -> PropertyDefinitionPublic:
    return PropertyDefinitionPublic(
        id=item.id,
        resource_type=taxonomy.stable_id("resource_type", item.resource_type),
        resource_type_slug=item.resource_type,
        key=item.key,
        name=item.name,
        description=item.description,
        value_type=item.value_type,
        required=item.required,
        example_value=item.example_value,
        vendor_scope=item.vendor_scope,
    )


@router.get("/vendor-type-mappings/")
def list_vendor_type_mappings(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    vendor: str | None = None,
    resource_type: TypeFilter = None,
    search: Search = None,
    page: PageNumber = 1,
    page_size: WholeList = MAX_PAGE_SIZE,
) -> Page[VendorTypeMappingPublic]:
    """Built-in mappings and those of installed plugins' active versions."""
    slug = _type_or_400(resource_type).slug if resource_type is not None else None
    items = [
        _mapping(m)
        for m in merged(declared_mappings(session))
        if vendor in (None, m.vendor)
        and slug in (None, m.resource_type)
        and matches(search, m.vendor, m.vendor_resource_type)
    ]
    return page_list(request, items, page, page_size)


@router.get("/vendor-type-mappings/{mapping_id}/")
def get_vendor_type_mapping(
    mapping_id: str, session: SessionDep, user: CurrentUser
) -> VendorTypeMappingPublic:
    for item in merged(declared_mappings(session)):
        if item.id == mapping_id:
            return _mapping(item)
    raise HTTPException(404, detail=f"no vendor type mapping {mapping_id!r}")


@router.get("/property-definitions/")
def list_property_definitions(
    request: Request,
    user: CurrentUser,
    resource_type: TypeFilter = None,
    vendor: Annotated[
        str | None, Query(description="Keys a resource of this vendor may carry (its and all)")
    ] = None,
    vendor_scope: Annotated[str | None, Query(description="Exactly this scope; '' for all")] = None,
    required: bool | None = None,
    value_type: Annotated[str | None, Query(json_schema_extra={"enum": list(VALUE_TYPES)})] = None,
    search: Search = None,
    page: PageNumber = 1,
    page_size: WholeList = MAX_PAGE_SIZE,
) -> Page[PropertyDefinitionPublic]:
    one_of("value_type", value_type, VALUE_TYPES)
    slug = _type_or_400(resource_type).slug if resource_type is not None else None
    items = [
        _definition(d)
        for d in PROPERTY_DEFINITIONS
        if slug in (None, d.resource_type)
        and (vendor is None or d.vendor_scope in ("", vendor))
        and vendor_scope in (None, d.vendor_scope)
        and required in (None, d.required)
        and value_type in (None, d.value_type)
        and matches(search, d.key, d.name)
    ]
    return page_list(request, items, page, page_size)


@router.get("/property-definitions/{definition_id}/")
def get_property_definition(definition_id: str, user: CurrentUser) -> PropertyDefinitionPublic:
    for item in PROPERTY_DEFINITIONS:
        if item.id == definition_id:
            return _definition(item)
    raise HTTPException(404, detail=f"no property definition {definition_id!r}")
