"""The bodies and answers of plugin versions and version policies (docs/repository.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from .schemas import _Strict


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Reason = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]
VersionText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]


class VersionPublic(BaseModel):
    version: str
    sha256: str
    size: int = Field(description="Bytes of the version's plugin files")
    created_at: datetime
    prerelease: bool
    yanked: bool
    yanked_reason: str | None
    yanked_at: datetime | None
    compatibility: dict[str, Any] = Field(
        description="compatible, problems (requires_estate, protocol_versions), override, usable"
    )
    source: str = Field(
        description="managed (built in, read-only), local (uploaded), remote (installed "
        "from a repository) or bundle (imported with estate plugin bundle import)"
    )
    repository: str | None = Field(
        default=None, description="For a remote version: the repository it was installed from"
    )
    state: str = Field(description="preparing, ready or failed")
    error: str | None
    used_by: list[int] = Field(
        description="The providers (of organizations you see) whose policy resolves to it or pins it"
    )


class YankRequest(_Strict):
    reason: Reason


class CompatibilityOverride(_Strict):
    override: StrictBool = Field(
        description="true: resolve it although its requirements are not met"
    )
    reason: Reason


class PinRequest(_Strict):
    version: VersionText


class UpgradeRequest(_Strict):
    to: VersionText = Field(description="An exact version or a policy (~1.5, >=1.5,<2)")
    dry_run: StrictBool = Field(default=False, description="Only show what would change")


class MovePublic(BaseModel):
    provider: int
    name: str
    from_version: str | None
    to_version: str | None = Field(description="null only when unpinning leaves none to run")
    plugin_version: str | None = Field(description="The provider's policy after the move")
    warnings: list[str]


class UpgradePublic(MovePublic):
    dry_run: bool
    diff: dict[str, Any] = Field(
        description="resource_types, connection_parameters (added, removed, changed, "
        "newly_required), profiles, requirements, compatibility, actions"
    )


class RollbackPublic(BaseModel):
    key: str
    providers: list[MovePublic]
