"""Bodies of remote plugin repositories (routes/repositories.py) and of installing from
them (routes/plugin_sources.py). A token is taken, never answered (``token_set``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from .schemas import _Strict

Kind = Literal["estate", "static"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def _url(value: str | None) -> str | None:
    """An http(s) URL with a host, without credentials or a fragment."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, not {parts.scheme or 'none'}")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; give the token in `token`")
    if parts.fragment or parts.query:
        raise ValueError("must not have a query or a fragment")
    return value.strip()


class RepositoryCreate(_Strict):
    """``POST repositories/`` (and ``PUT repositories/{id}/``, which replaces every field
    but the token unless one is given)."""

    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    kind: Kind = Field(
        description="`estate`: another Estate's API; `static`: an index.json on a file server"
    )
    url: str = Field(
        min_length=1,
        max_length=1000,
        description="estate: the service's base URL (https://estate.example); static: the "
        "folder holding index.json, or the index.json URL itself",
    )
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="An API token of the remote Estate (write-only; sent as "
        "`Authorization: Token …`)",
    )
    priority: int = Field(
        default=100,
        ge=0,
        le=1_000_000,
        description="Lower is preferred when several repositories offer a key",
    )
    enabled: bool = True

    _checked = field_validator("url")(_url)


class RepositoryUpdate(_Strict):
    """``PATCH repositories/{id}/``: the fields given; ``"token": null`` removes the token."""

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME)
    kind: Kind | None = None
    url: str | None = Field(default=None, min_length=1, max_length=1000)
    token: str | None = Field(default=None, min_length=1, max_length=2000)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool | None = None

    _checked = field_validator("url")(_url)

    @model_validator(mode="after")
    def _no_null(self) -> RepositoryUpdate:
        for name in self.model_fields_set - {"token"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: must not be null (leave it out to keep it)")
        return self


class RepositoryPublic(BaseModel):
    id: int
    name: str
    kind: Kind
    url: str
    token_set: bool = Field(description="Whether a token is stored (it is never shown)")
    priority: int
    enabled: bool
    last_sync_at: datetime | None
    last_sync_status: Literal["ok", "error", "running"] | None = Field(
        description="`running` while a sync of it runs (another is refused, 409)"
    )
    last_error: str | None
    offered: int = Field(description="Versions its last successful sync offered")
    created_at: datetime
    modified_at: datetime


class SyncPublic(BaseModel):
    repository: RepositoryPublic
    offered: int


class OfferedVersion(BaseModel):
    """One version a repository offers (its last sync), and whether it is installed here."""

    key: str
    vendor: str
    provider_type: str
    name: str
    description: str
    version: str
    sha256: str
    size: int
    created_at: datetime | None
    prerelease: bool
    yanked: bool
    yanked_reason: str | None
    requires_estate: str | None
    protocol_versions: list[int] | None
    signed_by: str | None = Field(description="The key id of its signature, null if unsigned")
    installed: bool = Field(description="This key and version is installed here")
    installed_sha256_matches: bool | None = Field(
        description="Installed with the same archive (null: not installed)"
    )
    repository: str


class InstallRequest(_Strict):
    """``POST provider-plugins/install/``."""

    key: str = Field(min_length=3, max_length=200, pattern=r"^[^:\s]+:[^:\s]+$")
    version: str | None = Field(
        default=None,
        max_length=100,
        description="An exact version, a range (~1.4, ^1.4, >=1.2,<2) or null: the latest "
        "compatible release",
    )
    source: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The repository's name; omitted: any enabled one (lowest priority wins)",
    )


class InstallPublic(BaseModel):
    key: str
    version: str
    sha256: str
    state: str
    outcome: Literal["installed", "replaced", "existing"]
    source: str
    repository: str | None
    chosen_source: str
    reason: str
    signature_status: str
    trust: str


class AvailablePublic(BaseModel):
    """One row of ``provider-plugins/available/``: a version from one source."""

    key: str
    version: str
    source: str = Field(description="managed, local, bundle (installed here) or remote")
    repository: str | None = Field(
        description="The repository it is offered by (remote), or was installed from"
    )
    priority: int | None = Field(description="That repository's priority (lower preferred)")
    prerelease: bool
    yanked: bool
    sha256: str
    created_at: datetime | None
    installed: bool = Field(description="This key and version is installed here")
    state: str | None = Field(
        description="An installed row's state (ready, preparing, failed); null when only offered"
    )
    chosen: bool = Field(description="This row is what `install` with no source would take")
    chosen_source: str | None = Field(
        description="The repository `install` of the key with neither source nor version "
        "would choose (null: none, or ambiguous)"
    )
    chosen_version: str | None
    reason: str = Field(description="Why that repository, or why none")
    ambiguous: bool = Field(
        description="Repositories of equal priority offer the key: `install` refuses "
        "(409) until a source is named; `reason` names them"
    )
