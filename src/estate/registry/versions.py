"""Queries over stored plugin versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import PluginVersion, Provider
from ..db.states import VersionState


def active_version(session: Session, key: str) -> PluginVersion | None:
    """The version jobs use for ``key``: the highest SemVer among the ready ones.

    Uploading an older version (or re-uploading one with ``force``) does not roll
    a plugin back; among equal versions the newest upload wins.
    """
    ready = session.scalars(
        select(PluginVersion).where(
            PluginVersion.key == key, PluginVersion.state == VersionState.READY
        )
    ).all()
    if not ready:
        return None
    return max(ready, key=lambda v: (semver_key(v.version), v.created_at, v.id))


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key of a SemVer string: 1.2.3-rc.1 < 1.2.3 < 1.10.0; build metadata ignored."""
    core, _, prerelease = version.split("+", 1)[0].partition("-")
    numbers = tuple(int(part) if part.isdigit() else 0 for part in core.split("."))
    if not prerelease:
        return (*numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (*numbers, 0, parts)


def versions_of(session: Session, key: str) -> list[PluginVersion]:
    return list(
        session.scalars(
            select(PluginVersion)
            .where(PluginVersion.key == key)
            .order_by(PluginVersion.created_at.desc(), PluginVersion.id.desc())
        )
    )


def shown_version(session: Session, key: str) -> PluginVersion | None:
    """The version the API describes for ``key``: the active one, else the newest upload.

    A plugin whose only versions are still preparing (or failed) is shown by its newest.
    """
    active = active_version(session, key)
    if active is not None:
        return active
    versions = versions_of(session, key)
    return versions[0] if versions else None


def providers_using(session: Session, key: str, visible: frozenset[int] | None = None) -> int:
    """How many providers use ``key``: of the ``visible`` organizations, or all (None)."""
    vendor, _, provider_type = key.partition(":")
    query = select(func.count()).where(
        Provider.vendor == vendor, Provider.provider_type == provider_type
    )
    if visible is not None:
        query = query.where(Provider.organization_id.in_(visible))
    return int(session.scalar(query) or 0)
