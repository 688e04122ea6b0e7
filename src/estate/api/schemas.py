"""Request and response bodies, named ``<Noun>Create / <Noun>Update / <Noun>Public``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..db.states import Role, SignatureStatus, Trust
from ..db.storable import describe, unstorable

Slug = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=100)

MAX_CONFIG_BYTES = 64 * 1024
"""How large a provider's connection_config may be, as JSON: it is served in every
provider list and sent to its plugin at every call."""


def _bounded_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    size = len(orjson.dumps(config))
    if size > MAX_CONFIG_BYTES:
        raise PydanticCustomError(
            "too_large",
            "{size} bytes as JSON, over the {limit} KB limit of a connection_config",
            {"size": size, "limit": MAX_CONFIG_BYTES // 1024},
        )
    return config


class _Strict(BaseModel):
    """A request body: no unknown fields, and nothing a database cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = unstorable(data)
        if problem:
            raise PydanticCustomError("unstorable", "{problem}", {"problem": describe(*problem)})
        return data


class OrganizationCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str
    created_at: datetime


class UserCreate(_Strict):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(min_length=8, max_length=200)
    is_admin: bool = False
    organization: int | None = None


class MembershipBrief(BaseModel):
    organization: int
    role: Role


class UserPublic(BaseModel):
    id: int
    username: str
    is_admin: bool = Field(description="A system administrator: every organization, plugins, users")
    is_active: bool
    organization: int | None = Field(description="The home organization; grants nothing by itself")
    memberships: list[MembershipBrief] = Field(
        default_factory=list, description="The user's role in each organization"
    )
    created_at: datetime


class MembershipCreate(_Strict):
    user: int = Field(ge=1, le=2**31 - 1, description="The user's id")
    role: Role = Role.VIEWER


class MembershipUpdate(_Strict):
    role: Role


class MembershipPublic(BaseModel):
    user: int
    username: str
    organization: int
    role: Role
    created_at: datetime


class UserUpdate(_Strict):
    is_active: bool | None = None
    is_admin: bool | None = None


Password = Annotated[str, Field(min_length=8, max_length=200)]


class PasswordSet(_Strict):
    """A new password, set by a system administrator."""

    password: Password


class PasswordChange(_Strict):
    """A user's own change: the current password proves it is them."""

    current_password: str = Field(max_length=200)
    new_password: Password


class TokenCreate(_Strict):
    name: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        description="Days the token lives (default ESTATE_TOKEN_DEFAULT_DAYS, "
        "at most ESTATE_TOKEN_MAX_DAYS)",
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    user: int
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    token: str | None = Field(default=None, description="Shown once, when the token is created")


class ProviderCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    infrastructure: str = Field(default="", max_length=50)
    vendor: str = Slug
    provider_type: str = Slug
    endpoint: str = Field(default="", max_length=500)
    organization: int = 1
    connection_config: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    plugin_version: str | None = Field(
        default=None,
        max_length=100,
        description="The version policy: an exact version (1.4.2), a range (~1.4, ^1.4, "
        ">=1.2,<2) or null for the latest compatible version (docs/repository.md)",
    )

    _bounded = field_validator("connection_config")(_bounded_config)


class ProviderUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    infrastructure: str | None = Field(default=None, max_length=50)
    vendor: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$", max_length=100)
    provider_type: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$", max_length=100)
    endpoint: str | None = Field(default=None, max_length=500)
    organization: int | None = None
    connection_config: dict[str, Any] | None = None
    enabled: bool | None = None
    plugin_version: str | None = Field(
        default=None,
        max_length=100,
        description="The version policy: an exact version (1.4.2), a range (~1.4, ^1.4, "
        ">=1.2,<2) or null for the latest compatible version (docs/repository.md)",
    )

    _bounded = field_validator("connection_config")(_bounded_config)


class ProviderPublic(BaseModel):
    id: int
    name: str
    infrastructure: str
    vendor: str
    provider_type: str
    endpoint: str
    organization: int
    connection_config: dict[str, Any]
    enabled: bool
    plugin_installed: bool
    plugin_version: str | None = Field(
        default=None, description="The version policy; null: the latest compatible version"
    )
    resolved_plugin_version: str | None = Field(
        default=None,
        description="The version its next job runs; null when none resolves (warnings say why)",
    )
    warnings: list[str] = Field(
        description="What stands in the provider's way, such as a plugin not installed; "
        "empty normally"
    )
    created_at: datetime
    updated_at: datetime
    last_refresh_at: datetime | None
    created: datetime = Field(description="The UIS's name for created_at")
    modified: datetime = Field(description="The UIS's name for updated_at")
    credential_ref: None = Field(
        description="Always null: secrets are kept sealed in connection_config"
    )
    resource_count: int = Field(description="Its resources, not counting deleted ones")
    last_collection_status: str | None = Field(description="The status of its newest run")
    schedule_count: int = Field(
        default=0, description="How many collection schedules the provider has"
    )


class CollectionRunPublic(BaseModel):
    id: int
    provider: int
    status: str
    plugin_key: str
    plugin_version: str | None
    plugin_sha256: str | None
    resources_found: int
    resources_created: int
    resources_updated: int
    resources_unchanged: int
    resources_deleted: int
    resources_restored: int
    errors: int
    error_message: str | None
    error_details: list[Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    completed_at: datetime | None = Field(description="The UIS's name for finished_at")
    canceled_at: datetime | None = Field(description="When a canceled run ended")
    resources_removed: int = Field(description="The UIS's name for resources_deleted")
    collector_version: str = Field(description="The plugin version that collected")
    task_uuid: str = Field(description="Always empty: runs are not queued in a task broker")
    result_traceback: str = Field(description="The plugin's traceback when it failed, or empty")
    collection_type: str = Field(
        default="full", description="full, or targeted: only target_resource_types collected"
    )
    target_resource_types: list[str] = Field(
        default_factory=list, description="The types a targeted run collected; empty when full"
    )
    trigger: str = Field(
        default="",
        description="Who or what started the run: user:<username> or schedule:<id> "
        "(empty for runs older than this field)",
    )


class CollectionRunDetail(CollectionRunPublic):
    log: str


class RelationshipPublic(BaseModel):
    relationship_type: str
    direction: str = Field(description="outgoing: this resource declared it; incoming: the other")
    ems_ref: str
    resource_id: int | None
    name: str | None
    resource_type: str | None


class ResourcePublic(BaseModel):
    id: int
    provider: int
    provider_name: str = Field(description="The UIS's name for the provider's name")
    organization: int = Field(description="The provider's organization")
    ems_ref: str
    resource_type: str
    resource_type_slug: str = Field(description="The UIS's name for resource_type")
    resource_type_name: str = Field(description="The taxonomy's label of the type")
    name: str | None
    description: str | None
    canonical_id: str | None
    vendor_identifiers: dict[str, Any]
    vendor_type: str | None
    state: str
    power_state: str | None
    boot_time: str | None
    region: str | None
    availability_zone: str | None
    cloud_tenant: str | None
    flavor: str | None
    cpu_count: int | None
    memory_mb: int | None
    disk_gb: float | None
    ip_addresses: list[str]
    fqdn: str | None
    mac_addresses: list[str]
    os_type: str | None
    os_name: str | None
    properties: dict[str, Any]
    provider_tags: dict[str, Any]
    ansible_host: str | None
    ansible_connection: str | None
    inventory_group: str | None
    ems_created_on: str | None
    metrics: dict[str, Any]
    first_seen_at: datetime
    first_discovered_at: datetime = Field(description="The UIS's name for first_seen_at")
    last_seen_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    is_deleted: bool
    seen_count: int
    """How many collection runs saw the resource."""
    last_seen_run: int | None
    tags: list[TagPublic] = Field(
        description="User tags (tags/), distinct from the platform's provider_tags"
    )


class ResourceDetail(ResourcePublic):
    relationships: list[RelationshipPublic]
    relationships_complete: bool = Field(
        description="False when more resources point here than the detail shows (the "
        "first 200 by ems_ref): resource-relationships/?target=<id> lists every edge"
    )


class ResourceChangePublic(BaseModel):
    id: int
    resource: int
    run: int | None
    kind: str
    changes: dict[str, Any] | None
    changed_at: datetime


MAX_TAG_BYTES = 2000
"""namespace, key and value together, in UTF-8: a tag is unique by them, and an index
entry of PostgreSQL holds about 2,700 bytes."""


class _TagText(_Strict):
    @model_validator(mode="after")
    def _indexable(self) -> Any:
        parts = [getattr(self, name, "") for name in ("namespace", "key", "value")]
        size = sum(len(part.encode()) for part in parts)
        if size > MAX_TAG_BYTES:
            raise PydanticCustomError(
                "too_large",
                "namespace, key and value: {size} bytes together in UTF-8, over {limit}",
                {"size": size, "limit": MAX_TAG_BYTES},
            )
        return self


class TagPublic(BaseModel):
    id: int
    namespace: str
    key: str
    value: str
    organization: int


class TagCreate(_TagText):
    namespace: str = Field(min_length=1, max_length=128)
    key: str = Field(min_length=1, max_length=256)
    value: str = Field(default="", max_length=1024)
    organization: int = Field(default=1, ge=1, le=2**31 - 1)


class TagAssign(_TagText):
    """A tag put on a resource, in the resource's organization (defined if new)."""

    namespace: str = Field(default="user", min_length=1, max_length=128)
    key: str = Field(min_length=1, max_length=256)
    value: str = Field(default="", max_length=1024)


class TagRef(_TagText):
    """A tag of the resource named by what it says rather than by id."""

    namespace: str = Field(default="user", max_length=128)
    key: str = Field(max_length=256)
    value: str = Field(default="", max_length=1024)


class AutomationRecordPublic(BaseModel):
    """An automation run on a resource, as the UIS lists them (see inventory/automations.py)."""

    id: int
    resource: int
    resource_name: str | None
    resource_canonical_id: str | None
    source_name: str
    correlation_type: str
    correlation_key: str
    correlation_confidence: str
    aap_host_id: int | None
    aap_host_name: str
    aap_job_id: int | None
    aap_job_name: str
    aap_job_status: str
    aap_job_started_at: datetime | None
    aap_job_finished_at: datetime | None
    aap_inventory_name: str
    automation_details: dict[str, Any]
    synced_at: datetime | None
    organization: int


class ResourceDriftPublic(BaseModel):
    """One change of one resource, as the UIS's ``resource-drift/`` shows it."""

    id: int
    resource: int
    resource_name: str | None
    resource_type: str
    resource_type_slug: str
    ems_ref: str
    provider: int
    provider_name: str
    collection_run: int | None
    collection_run_started_at: datetime | None
    previous_collection_run: int | None
    """The run that saw the resource last before this change (None once it is gone)."""
    previous_collection_run_started_at: datetime | None
    drift_type: str
    """``modified``, ``deleted`` or ``restored``."""
    detected_at: datetime
    changes: dict[str, Any]
    """``{field: {"from": old, "to": new}}``; empty for most deletions and restorations."""


class ResourceSightingPublic(BaseModel):
    """One observation of a resource and every run that saw it unchanged."""

    id: str
    """``<resource>-<seen_before>``: stable from the first run to the last."""
    resource: int
    resource_name: str | None
    collection_run: int | None
    """The run that first saw this observation."""
    seen_at: datetime
    last_collection_run: int | None
    last_seen_at: datetime
    seen_count: int
    """How many runs saw this observation, ``collection_run`` to ``last_collection_run``."""
    seen_before: int
    """How many runs saw the resource before this observation began."""
    is_current: bool
    state: str
    power_state: str | None
    boot_time: str | None
    cpu_count: int | None
    memory_mb: int | None
    disk_gb: float | None
    metrics: dict[str, Any]


class ResourceTypePublic(BaseModel):
    id: str = Field(
        description="A UUID that never changes (the seed's clients address types by id)"
    )
    slug: str
    name: str
    category: str = Field(description="The category's slug (the seed service gives its id here)")
    category_slug: str
    category_name: str
    description: str
    is_countable: bool = Field(description="Whether a resource of the type is a managed node")
    long_term_strategic_value: int | None
    short_term_opportunity: int | None
    sort_order: int


class PluginVersionPublic(BaseModel):
    version: str
    sha256: str
    state: str
    """``preparing`` while its environment is built, then ``ready`` or ``failed``."""
    error: str | None
    source: str = Field(description="managed, local or remote")
    repository: str | None = Field(
        default=None, description="The repository a remote version was installed from"
    )
    created_at: datetime
    is_active: bool
    install_log: str
    signature_status: SignatureStatus = Field(
        description="valid | invalid | modified | unsigned: what the last check of its files "
        "and signature found (docs/repository.md)"
    )
    trust: Trust = Field(description="managed | trusted | unsigned")
    signed_by: str | None = Field(description="The id of the key of its signature, if any")


class PluginPublic(BaseModel):
    key: str
    vendor: str
    provider_type: str
    display_name: str
    description: str
    version: str
    sha256: str
    class_path: str
    source: str = Field(description="Of the version shown: managed, local or remote")
    repository: str | None = Field(
        default=None, description="Of the version shown: the repository it came from (remote)"
    )
    state: str
    supported_resource_types: list[str]
    connection_parameters: list[dict[str, Any]]
    provider_count: int
    configured_instances: int = Field(description="The UIS's name for provider_count")
    name: str = Field(description="The UIS's name for display_name")
    created_at: datetime
    signature_status: SignatureStatus = Field(description="Of the version shown")
    trust: Trust = Field(description="Of the version shown")


class PluginDetail(PluginPublic):
    manifest: dict[str, Any]
    dependencies: dict[str, list[str]]
    versions: list[PluginVersionPublic]
    install_log: str
    error: str | None


class PluginUploaded(BaseModel):
    key: str
    version: str
    state: str
    class_path: str
    """Empty while the version is ``preparing`` (``?wait=false``)."""
    supported_resource_types: list[str]
    sha256: str
    replaced: bool
    signature_status: SignatureStatus
    trust: Trust
    outcome: str = Field(
        default="installed",
        description="installed; replaced (a version that had failed to prepare); existing "
        "(the same bytes were installed already: nothing changed)",
    )
    compatibility: dict[str, Any] = Field(
        default_factory=dict,
        description="Whether this service can run it (requires_estate, protocol_versions); "
        "an incompatible version is stored but never resolved until overridden",
    )


class ConnectionResult(BaseModel):
    provider: int
    name: str
    ok: bool
    message: str


class PluginTestResult(BaseModel):
    key: str
    results: list[ConnectionResult]


class EventPublic(BaseModel):
    id: int
    provider: int | None
    run: int | None
    action_run: int | None = None
    plugin_key: str
    type: str
    severity: str
    message: str
    data: dict[str, Any]
    created_at: datetime


class PluginLogLine(BaseModel):
    time: float
    level: str
    message: str


class PluginProcessPublic(BaseModel):
    """One long-lived plugin process the supervisor keeps (see docs/protocol.md)."""

    slot: str = Field(description="provider:<id> or version:<id>")
    plugin_key: str
    label: str
    state: str = Field(description="running, backoff, broken (crash loop) or stopped")
    pid: int | None
    starts: int
    restarts: int
    recent_crashes: int
    retry_in: float | None
    breaker_open_for: float | None
    health_ms: float | None
    idle_seconds: float
    last_error: str | None
    log: list[PluginLogLine]


class AuditEntryPublic(BaseModel):
    id: int
    created_at: datetime
    user: int | None
    username: str
    action: str
    object_type: str
    object_id: str | None
    organization: int | None
    client: str
    status: int
    detail: str
