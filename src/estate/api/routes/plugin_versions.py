"""A plugin's stored versions: list, show, yank, unyank, compatibility override, delete;
and rolling back every provider of a plugin at once (docs/repository.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from ...db.models import PluginVersion
from ...registry import lifecycle, upgrades
from ...registry.compatibility import compatibility
from ...registry.errors import PluginNotFound
from ...registry.policy import is_prerelease, semver_key
from ...registry.versions import versions_of
from ...runtime.environments import plugin_folder
from ..deps import AdminUser, ContextDep, CurrentUser, SessionDep, Visible
from ..openapi import conflict
from ..schemas_versions import (
    CompatibilityOverride,
    MovePublic,
    RollbackPublic,
    VersionPublic,
    YankRequest,
)

router = APIRouter(prefix="/provider-plugins", tags=["plugin versions"])

READ_ONLY = "The version is built in (managed) and read-only"


def version_public(
    session: Session, version: PluginVersion, visible: frozenset[int] | None
) -> VersionPublic:
    users = lifecycle.users_of(session, version)
    return VersionPublic(
        version=version.version,
        sha256=version.sha256,
        size=_size(Path(version.path)),
        created_at=version.created_at,
        prerelease=is_prerelease(version.version),
        yanked=version.yanked,
        yanked_reason=version.yanked_reason,
        yanked_at=version.yanked_at,
        compatibility=compatibility(version),
        source=version.source,
        repository=version.repository,
        state=version.state,
        error=version.error,
        used_by=[p.id for p in users if visible is None or p.organization_id in visible],
    )


def _size(root: Path) -> int:
    folder = plugin_folder(root)
    if not folder.is_dir():
        return 0
    return sum(
        path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts
    )


@router.get("/{key}/versions/", description="Every stored version of the plugin, highest first.")
def list_versions(
    key: str, session: SessionDep, user: CurrentUser, visible: Visible
) -> list[VersionPublic]:
    versions = versions_of(session, key)
    if not versions:
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    ordered = sorted(versions, key=lambda v: semver_key(v.version), reverse=True)
    return [version_public(session, v, visible) for v in ordered]


@router.get("/{key}/versions/{version}/")
def get_version(
    key: str, version: str, session: SessionDep, user: CurrentUser, visible: Visible
) -> VersionPublic:
    return version_public(session, lifecycle.stored_version(session, key, version), visible)


@router.post(
    "/{key}/versions/{version}/yank/",
    responses=conflict(READ_ONLY),
    description="Yank a version: no new pin, range or latest policy chooses it; a provider "
    "pinned to it exactly keeps running it, warned.",
)
def yank_version(
    key: str, version: str, body: YankRequest, session: SessionDep, user: AdminUser
) -> VersionPublic:
    found = lifecycle.stored_version(session, key, version)
    lifecycle.yank(found, body.reason)
    session.commit()
    return version_public(session, found, None)


@router.post("/{key}/versions/{version}/unyank/", responses=conflict(READ_ONLY))
def unyank_version(key: str, version: str, session: SessionDep, user: AdminUser) -> VersionPublic:
    found = lifecycle.stored_version(session, key, version)
    lifecycle.unyank(found)
    session.commit()
    return version_public(session, found, None)


@router.post(
    "/{key}/versions/{version}/compatibility/",
    responses=conflict(READ_ONLY),
    description="An administrator's override of a failed compatibility check: "
    '`{"override": true, "reason": …}` lets the version be resolved without a new release; '
    "false withdraws it.",
)
def override_compatibility(
    key: str,
    version: str,
    body: CompatibilityOverride,
    session: SessionDep,
    user: AdminUser,
) -> VersionPublic:
    found = lifecycle.stored_version(session, key, version)
    lifecycle.override_compatibility(
        found, override=body.override, reason=body.reason, by=user.username
    )
    session.commit()
    return version_public(session, found, None)


@router.delete(
    "/{key}/versions/{version}/",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=conflict(f"A provider's policy resolves to it or pins it; or: {READ_ONLY}"),
)
def delete_version(
    key: str, version: str, context: ContextDep, session: SessionDep, user: AdminUser
) -> Response:
    found = lifecycle.stored_version(session, key, version)
    lifecycle.delete_version(session, found)
    session.commit()
    # Its folder goes at the next refresh/ or start (remove_unreferenced), as a
    # job may still be running from it.
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{key}/rollback/",
    responses=conflict("A provider of the plugin has no earlier version to return to"),
    description="Return every provider of the plugin to the exact version it used before "
    "its version last changed, all or none, in one transaction.",
)
def rollback_plugin(key: str, session: SessionDep, user: AdminUser) -> RollbackPublic:
    if not versions_of(session, key):
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    moves = upgrades.rollback_key(session, key)
    session.commit()
    return RollbackPublic(key=key, providers=[MovePublic(**m.answer()) for m in moves])
