"""The data model; ARCHITECTURE.md "Data model" is the map of these classes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .states import Role, RunStatus, SignatureStatus, Trust, VersionSource, VersionState
from .types import JSONType, NullableJSON, UTCDateTime, utcnow

# Primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Read-only: the database deletes a user's memberships with the user.
    memberships: Mapped[list[Membership]] = relationship(
        viewonly=True, order_by="Membership.organization_id"
    )


class Membership(Base):
    """A user's role in one organization (auth/roles.py reads them); a user may hold
    one in several organizations. ``User.organization_id`` is the user's home
    organization, kept for compatibility; it grants nothing by itself."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default=Role.VIEWER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A browser's login to the web UI: the cookie's digest and the CSRF token.

    ``password_mark`` is a digest of the user's password hash when the session began:
    a password change ends every session of the user at its next request.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    password_mark: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One refused login, counted against a user name or a client address
    (auth/throttle.py): in the database, so every service process counts them all."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_kind_name_at", "kind", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "user" | "client"
    name: Mapped[str] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class LoginBlock(Base):
    """A user name or client address throttled until ``blocked_until`` (epoch seconds);
    ``level`` is how many throttles followed each other (each lasts twice as long)."""

    __tablename__ = "login_blocks"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    blocked_until: Mapped[float] = mapped_column(Float, index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who did what to which object, when, from where; never a body or a secret.

    No foreign keys: the entries of a deleted user or object stay as they were.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(150), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(100), default="")
    object_id: Mapped[str | None] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(500), default="")


class PluginVersion(Base):
    """One stored, immutable version of a plugin package."""

    __tablename__ = "plugin_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    vendor: Mapped[str] = mapped_column(String(100))
    provider_type: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    class_path: Mapped[str] = mapped_column(String(300))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(20), default=VersionSource.LOCAL)
    state: Mapped[str] = mapped_column(String(20), default=VersionState.READY)
    path: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    install_log: Mapped[str] = mapped_column(Text, default="")
    # What the plugin's ``define`` said of its actions and profiles (the catalog's
    # source): ``{"actions": [...], "profiles": [...]}``; None until it is defined.
    definition: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON, nullable=True)
    # Integrity and trust (registry/integrity.py): the sha256 of each of the plugin's
    # files, the digest of that list, its signature ({key_id, algorithm, signature,
    # files_digest} or None) and what the last check found.
    files: Mapped[dict[str, str] | None] = mapped_column(NullableJSON, nullable=True)
    files_digest: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON, nullable=True)
    signature_status: Mapped[str] = mapped_column(String(20), default=SignatureStatus.UNSIGNED)
    trust: Mapped[str] = mapped_column(String(20), default=Trust.UNSIGNED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Yanked: never chosen by a new pin, a range or "latest"; an exact pin keeps it, warned.
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(Text)
    yanked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An administrator's word on a version whose manifest's requirements (requires_estate,
    # protocol_versions) this service does not meet: True lets it be resolved anyway.
    compatibility_override: Mapped[bool | None] = mapped_column(Boolean)
    compatibility_override_reason: Mapped[str | None] = mapped_column(Text)
    compatibility_override_by: Mapped[str | None] = mapped_column(String(150))
    compatibility_override_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For a version installed from a remote repository (source ``remote``): that
    # repository's name, kept when the repository is removed.
    repository: Mapped[str | None] = mapped_column(String(100))


class PluginRepository(Base):
    """A remote plugin source: another Estate (``estate``) or a static index (``static``).

    ``token`` is sealed with the secret box and never shown; ``priority`` orders
    repositories offering the same key (lower is preferred, registry/remotes.py).
    """

    __tablename__ = "plugin_repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(1000))
    token: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RemotePluginVersion(Base):
    """One version a repository offered at its last successful sync (its index, cached)."""

    __tablename__ = "remote_plugin_versions"
    __table_args__ = (UniqueConstraint("repository_id", "key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("plugin_repositories.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200), index=True)
    vendor: Mapped[str] = mapped_column(String(100))
    provider_type: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prerelease: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(Text)
    requires_estate: Mapped[str | None] = mapped_column(String(200))
    protocol_versions: Mapped[list[int] | None] = mapped_column(NullableJSON, nullable=True)
    files_digest: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON, nullable=True)
    archive_url: Mapped[str] = mapped_column(Text)


class SigningKey(Base):
    """An Ed25519 public key plugin signatures are checked against (registry/keyring.py).

    ``organization_id`` None is installation-wide; ``managed`` marks the installation's
    own key, whose private half never leaves the data directory.
    """

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(100))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str] = mapped_column(Text, default="")


class Provider(Base):
    """A connection to one platform; the seed's provider record."""

    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    infrastructure: Mapped[str] = mapped_column(String(50), default="")
    vendor: Mapped[str] = mapped_column(String(100))
    provider_type: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(500), default="")
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    connection_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The version policy (registry/policy.py): an exact version, a range, or None for
    # the latest compatible; registry/versions.resolve_for turns it into a version.
    plugin_version: Mapped[str | None] = mapped_column(String(100))
    # The exact version its last job ran, and the one it ran before that changed:
    # what a rollback returns to (kept by jobs, registry/versions.note_used).
    used_plugin_version: Mapped[str | None] = mapped_column(String(100))
    previous_plugin_version: Mapped[str | None] = mapped_column(String(100))

    @property
    def key(self) -> str:
        return f"{self.vendor}:{self.provider_type}"


class CollectionRun(Base):
    __tablename__ = "collection_runs"
    __table_args__ = (Index("ix_collection_runs_provider_status", "provider_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING)
    plugin_key: Mapped[str] = mapped_column(String(200), default="")
    plugin_version: Mapped[str | None] = mapped_column(String(100))
    plugin_sha256: Mapped[str | None] = mapped_column(String(64))
    resources_found: Mapped[int] = mapped_column(Integer, default=0)
    resources_created: Mapped[int] = mapped_column(Integer, default=0)
    resources_updated: Mapped[int] = mapped_column(Integer, default=0)
    resources_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    resources_deleted: Mapped[int] = mapped_column(Integer, default=0)
    resources_restored: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    log: Mapped[str] = mapped_column(Text, default="")
    # full, or targeted: only ``target_resource_types`` were collected (and only they
    # may be marked deleted).
    collection_type: Mapped[str] = mapped_column(String(16), default="full")
    target_resource_types: Mapped[list[str] | None] = mapped_column(JSONType)
    # Who or what started it: ``user:<name>``, ``schedule:<id>``; "" before they were kept.
    trigger: Mapped[str] = mapped_column(String(100), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider] = relationship()


class CollectionSchedule(Base):
    """A cron schedule that starts collections of one provider (jobs/schedule.py runs it).

    ``next_run_at`` is when it fires next (None while disabled); a scheduler claims a
    due schedule by moving it on with a compare-and-set on that column, so of several
    service processes on one database exactly one starts each firing.
    """

    __tablename__ = "collection_schedules"
    __table_args__ = (Index("ix_collection_schedules_due", "enabled", "next_run_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    cron_expression: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_runs.id", ondelete="SET NULL")
    )
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    provider: Mapped[Provider] = relationship()


class Resource(Base):
    """One resource of one provider, unique by ``ems_ref``; deleted ones are kept."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("provider_id", "ems_ref", name="uq_resources_provider_ems_ref"),
        Index("ix_resources_type", "resource_type"),
        # Only deleted rows: lets a run count what is alive without reading rows.
        Index(
            "ix_resources_deleted",
            "provider_id",
            sqlite_where=text("deleted_at IS NOT NULL"),
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        # Over the rows that are not deleted (what lists show by default), in id
        # order within each key: a filtered first page reads one index range, and a
        # deep numbered page skips entries of a narrow index, not rows.
        *(
            Index(
                name,
                *columns,
                sqlite_where=text("deleted_at IS NULL"),
                postgresql_where=text("deleted_at IS NULL"),
            )
            for name, columns in (
                ("ix_resources_alive", ("id", "provider_id")),
                ("ix_resources_alive_provider", ("provider_id", "id")),
                ("ix_resources_alive_state", ("state", "id")),
                ("ix_resources_alive_os_type", ("os_type", "id")),
                # The web UI's sortable columns (migration 0017).
                ("ix_resources_alive_name", ("name", "id")),
                ("ix_resources_alive_type", ("resource_type", "id")),
            )
        ),
        # Search: on PostgreSQL a pg_trgm GIN index on the searched text
        # (inventory.search); on SQLite the FTS5 table resources_search. Both, and
        # the triggers keeping ResourceCount, are made by migration 0009.
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    ems_ref: Mapped[str] = mapped_column(String(500))
    resource_type: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    canonical_id: Mapped[str | None] = mapped_column(String(500))
    vendor_identifiers: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    vendor_type: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    power_state: Mapped[str | None] = mapped_column(String(100))
    boot_time: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(100))
    availability_zone: Mapped[str | None] = mapped_column(String(100))
    cloud_tenant: Mapped[str | None] = mapped_column(String(200))
    flavor: Mapped[str | None] = mapped_column(String(200))
    cpu_count: Mapped[int | None] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(BigInteger)
    disk_gb: Mapped[float | None] = mapped_column(Float)
    ip_addresses: Mapped[list[str] | None] = mapped_column(JSONType)
    fqdn: Mapped[str | None] = mapped_column(String(500))
    mac_addresses: Mapped[list[str] | None] = mapped_column(JSONType)
    os_type: Mapped[str | None] = mapped_column(String(100))
    os_name: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    provider_tags: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ansible_host: Mapped[str | None] = mapped_column(String(500))
    ansible_connection: Mapped[str | None] = mapped_column(String(100))
    inventory_group: Mapped[str | None] = mapped_column(String(200))
    ems_created_on: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The resource's own edges, ``[[target_ems_ref, relationship_type], …]`` in the
    # plugin's order; ResourceRelationship is their reverse index.
    relationships: Mapped[list[list[str]] | None] = mapped_column(JSONType)
    # How many edges ``relationships`` holds: generated by the database (migration
    # 0012), never written here; the relationship list counts from its index.
    relationship_count: Mapped[int | None] = mapped_column(Integer, FetchedValue(), deferred=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    # With first_seen_at, the history's "created" entry (no row is stored for it).
    first_seen_run_id: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # With ResourceSeen's counters, the current sighting (see ResourceSighting): it
    # began in sighting_run_id at sighting_at (NULL: at first_seen_*), after
    # sighting_seen_before earlier sightings.
    sighting_run_id: Mapped[int | None] = mapped_column(Integer)
    sighting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sighting_seen_before: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    provider: Mapped[Provider] = relationship()
    # Loaded with the row (one primary-key probe); SQL reads ResourceSeen's columns.
    seen: Mapped[ResourceSeen] = relationship(lazy="joined", viewonly=True)

    @property
    def last_seen_at(self) -> datetime:
        return self.seen.last_seen_at

    @property
    def last_seen_run_id(self) -> int | None:
        return self.seen.last_seen_run_id

    @property
    def seen_count(self) -> int:
        return self.seen.seen_count


class ResourceSeen(Base):
    """When a resource was last seen, by which run, and by how many runs: what every
    run writes of each resource it sees, kept apart from the resource row.

    A re-collection sees every resource again and changes nothing else of most of
    them: here that is a new version of a row of four numbers, not of the whole
    resource row (on PostgreSQL ~220 bytes of WAL each, and the first touch of a page
    after a checkpoint the whole 8 kB page, for every page of the resources). One row
    per resource, made by a trigger when the resource is inserted (from its
    ``first_seen_*``, migration 0026), deleted with it.
    """

    __tablename__ = "resource_seen"
    __table_args__ = (
        # SQLite only, the web UI's "Last seen" sort: on PostgreSQL an indexed
        # last_seen_at would make every touch write an index entry (migration 0021).
        Index("ix_resource_seen_last_seen", "last_seen_at", "resource_id").ddl_if(dialect="sqlite"),
    )

    resource_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_run_id: Mapped[int | None] = mapped_column(Integer)
    seen_count: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class ResourceCount(Base):
    """How many resources have one (provider, type, state, os_type, region, deleted).

    Kept exact by triggers on ``resources`` (migration 0009), in the transaction of
    every write, so a list's ``count`` is a sum over a few rows (inventory.counts).
    An absent ``os_type`` or ``region`` is ``''``; a key may remain with ``n`` 0.
    ``edges`` sums the resources' ``relationship_count`` (migration 0020): the
    relationship list's count.
    """

    __tablename__ = "resource_counts"
    __table_args__ = {"sqlite_with_rowid": False}

    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    os_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    region: Mapped[str] = mapped_column(String(100), primary_key=True)
    deleted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    edges: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ResourceBlock(Base):
    """How many resources, and how many edges, one block of ``SIZE`` ids holds per
    (provider, deleted): ``block`` is ``id // SIZE``.

    Kept exact by triggers on ``resources`` (migration 0022), as ``resource_counts``
    is, so a deep numbered page sums blocks to the one holding its first row and
    skips within it alone (inventory.blocks).
    """

    __tablename__ = "resource_blocks"
    __table_args__ = {"sqlite_with_rowid": False}
    SIZE = 4096  # migration 0022's BLOCK

    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    deleted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    edges: Mapped[int] = mapped_column(BigInteger)


class ResourceChange(Base):
    """One real change of one resource: modified, deleted or restored.

    ``created`` is not stored: history derives it from the resource row
    (``first_seen_run_id``, ``first_seen_at``).
    """

    __tablename__ = "resource_changes"
    __table_args__ = (
        # The change feed: "what changed in this run" and "since this time", newest
        # first, are each one range of one index.
        Index("ix_resource_changes_run_id_id", "run_id", "id"),
        Index("ix_resource_changes_changed_at", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_runs.id", ondelete="SET NULL")
    )
    # The run that saw the resource last before this change (no foreign key: the
    # answer says None once that run is gone).
    previous_run_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResourceSighting(Base):
    """One past observation of a resource, kept for as many runs as it did not change.

    A row is written only when an observed value (state, power_state, boot_time,
    cpu_count, memory_mb, disk_gb, metrics) changes, or the resource comes back after
    a deletion: the observation that ended is stored whole (first and last run and
    time, how many runs saw it). The current observation is never stored: it is read
    from the resource row (``sighting_*``) and its ResourceSeen, so a run
    writes nothing for resources that did not change, and a first collection nothing.
    ``seen_before`` (how many runs saw the resource before this observation began)
    orders a resource's sightings and, with its id, names one.
    """

    __tablename__ = "resource_sightings"
    __table_args__ = (
        UniqueConstraint("resource_id", "seen_before", name="uq_resource_sightings_ordinal"),
        Index("ix_resource_sightings_last_seen_at", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    seen_before: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    power_state: Mapped[str | None] = mapped_column(String(100))
    boot_time: Mapped[str | None] = mapped_column(String(64))
    cpu_count: Mapped[int | None] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(BigInteger)
    disk_gb: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ResourceRelationship(Base):
    """The reverse index of ``Resource.relationships``: which resources point at which.

    One row per (target, source) pair within a provider, whatever the types (those
    are read from the source's ``relationships``), so a resource's incoming edges are
    one index range. The primary key is the whole row (``WITHOUT ROWID`` on SQLite:
    a single b-tree). Ingest fills it for a run's new resources when the run ends, in
    one statement; both ends resolve at read time through ``(provider_id, ems_ref)``,
    so an edge to a resource that appears in a later run resolves by itself.
    """

    __tablename__ = "resource_relationships"
    __table_args__ = {"sqlite_with_rowid": False}

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    target_ems_ref: Mapped[str] = mapped_column(String(500), primary_key=True)
    source_ems_ref: Mapped[str] = mapped_column(String(500), primary_key=True)


class Event(Base):
    """Something a plugin published (seed 001's *publish*), kept with its provider and run."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_runs.id", ondelete="SET NULL"), index=True
    )
    # The action run during which the plugin published it (its collection run is the
    # action's refresh, if any: run_id).
    action_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_runs.id", ondelete="SET NULL"), index=True
    )
    plugin_key: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Tag(Base):
    """A label a user gives resources (``namespace/key=value``), per organization.

    Distinct from ``Resource.provider_tags`` (the platform's own labels, rewritten by
    every collection): these are never touched by a collection, so they survive it.
    """

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("organization_id", "namespace", "key", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    namespace: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResourceTag(Base):
    """One tag on one resource; both foreign keys cascade, so a tag leaves with its
    resource (or with its definition).

    ``provider_id`` and ``alive`` copy the resource's provider and whether it is not
    deleted; triggers (migration 0023) set them when the tag is put on and follow the
    resource, never the application. A list filtered by tags alone then reads its ids
    from ``ix_resource_tags_tag`` without looking at a resource (inventory.counts).
    """

    __tablename__ = "resource_tags"
    __table_args__ = (
        Index("ix_resource_tags_tag", "tag_id", "alive", "provider_id", "resource_id"),
        {"sqlite_with_rowid": False},
    )

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, server_default="0")
    alive: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Watchlist(Base):
    """The resources an operator cares about: a static list, or a dynamic one whose
    members are the resources its ``filter_query`` (resource list filters) matches."""

    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    watchlist_type: Mapped[str] = mapped_column(String(16), default="static")
    filter_query: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WatchlistResource(Base):
    """A member of a static watchlist; it leaves with the resource or the watchlist."""

    __tablename__ = "watchlist_resources"
    __table_args__ = (
        Index("ix_watchlist_resources_resource", "resource_id"),
        {"sqlite_with_rowid": False},
    )

    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )


class ActionRun(Base):
    """One lifecycle action asked of a provider's plugin (docs/actions.md), and its end.

    pending → running → completed | failed | canceled. ``resource_id`` is None for a
    provider-level action. ``parameters`` holds the non-secret arguments, a secret one
    as ``$encrypted$``; the secret values themselves are in ``secret_parameters``,
    sealed with the service's key. ``refresh_run_id`` is the targeted collection that
    refreshed the inventory after the action, whose changes are attributed to it.
    """

    __tablename__ = "action_runs"
    __table_args__ = (Index("ix_action_runs_resource_status", "resource_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("resources.id", ondelete="SET NULL")
    )
    ems_ref: Mapped[str | None] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_parameters: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING, index=True)
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    log: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(150), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    refresh_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_runs.id", ondelete="SET NULL")
    )
    plugin_version: Mapped[str | None] = mapped_column(String(100))
    plugin_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider] = relationship()


class ConformanceRun(Base):
    """One run of the conformance suite through the service (docs/conformance.md).

    pending → running → completed | failed. ``report`` is the suite's JSON report
    (``estate.conformance``), kept verbatim: the catalog's per-profile statuses come
    from the latest completed run of each plugin version. A run that could not run
    the suite at all (no plugin, the provider gone, the suite crashed) is ``failed``
    with ``error`` and no report. The plugin's key, version and digest are copied, so
    the result stays attributable after the version or the provider is removed.
    """

    __tablename__ = "conformance_runs"
    __table_args__ = (Index("ix_conformance_runs_key_version", "plugin_key", "plugin_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_key: Mapped[str] = mapped_column(String(200))
    plugin_version: Mapped[str] = mapped_column(String(100))
    plugin_sha256: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("plugin_versions.id", ondelete="SET NULL")
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="SET NULL"))
    profiles: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING)
    suite_version: Mapped[str] = mapped_column(String(20), default="")
    platform: Mapped[str] = mapped_column(String(300), default="")
    checks_done: Mapped[int] = mapped_column(Integer, default=0)
    checks_failed: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
