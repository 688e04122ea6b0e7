"""Answers of the taxonomy and relationship endpoints, field for field as the seed serves them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ResourceCategoryPublic(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    sort_order: int
    resource_type_count: int


class VendorTypeMappingPublic(BaseModel):
    id: str
    vendor: str
    vendor_resource_type: str = Field(description="The platform's own name for the type")
    resource_type: str = Field(description="The id of the resource type")
    resource_type_slug: str
    ansible_collection: str
    ansible_module: str
    query_file_ref: str
    source: str = Field(description="built-in, or the key of the plugin that declared it")


class PropertyDefinitionPublic(BaseModel):
    id: str
    resource_type: str = Field(description="The id of the resource type")
    resource_type_slug: str
    key: str
    name: str
    description: str
    value_type: str
    required: bool
    example_value: str
    vendor_scope: str = Field(description="The vendor it applies to; empty: every vendor")


class ResourceRelationshipPublic(BaseModel):
    id: str = Field(description="Stable while the edge exists: source, type and target")
    source: int
    source_name: str | None
    target: int | None = Field(description="null while the target has not been collected")
    target_name: str | None
    relationship_type: str
    properties: dict[str, Any]
    provider: int
    source_ems_ref: str
    target_ems_ref: str
    source_resource_type: str
    target_resource_type: str | None
