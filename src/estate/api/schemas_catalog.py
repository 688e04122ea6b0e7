"""Bodies of the catalog and of conformance runs (routes/catalog.py, routes/conformance.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..db.states import SignatureStatus, Trust
from .schemas import _Strict

ProfileStatus = Literal["pass", "partial", "fail", "not_tested"]


class ProfileConformance(BaseModel):
    """A claimed profile's status from the latest real run that tested it."""

    status: ProfileStatus
    tested_at: datetime | None = Field(description="When that run ended; null: never tested")
    suite_version: str | None
    platform: str | None = Field(description="What the run talked to, as the plugin said")
    run: int | None = Field(description="The conformance run (system administrators read it)")


class CatalogEntry(BaseModel):
    key: str
    name: str
    description: str
    version: str
    sha256: str
    source: str
    state: str
    signature_status: SignatureStatus = Field(
        description="valid | invalid | modified | unsigned (docs/repository.md)"
    )
    trust: Trust = Field(description="managed | trusted | unsigned")
    maintainers: list[str]
    license: list[str]
    maturity: str | None
    tags: list[str]
    repository: str | None
    documentation: str | None
    supported_resource_types: list[str]
    profiles: list[str] = Field(description="The capability profiles the manifest claims")
    actions: list[dict[str, Any]] | None = Field(
        description="The actions the plugin declares (null: not defined yet)"
    )
    conformance: dict[str, ProfileConformance] = Field(
        description="Per claimed profile, from stored runs of the conformance suite only"
    )


class ConformanceRequest(_Strict):
    """``POST provider-plugins/{key}/conformance/``."""

    provider: int = Field(ge=1, le=2**31 - 1, description="The provider to run the suite against")
    profiles: list[str] | None = Field(
        default=None,
        max_length=10,
        description="The profiles to check (default: every profile the plugin claims)",
    )


class ConformanceRunPublic(BaseModel):
    id: int
    plugin_key: str
    plugin_version: str
    plugin_sha256: str
    provider: int | None
    profiles: list[str] | None
    status: str
    suite_version: str
    platform: str
    checks_done: int
    checks_failed: int
    error: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    profile_status: dict[str, str] = Field(
        description="Per profile tested: pass | partial | fail (empty until completed)"
    )


class ConformanceRunDetail(ConformanceRunPublic):
    report: dict[str, Any] | None = Field(
        description="The suite's JSON report (docs/conformance.md)"
    )
