"""A stored version's life after upload: yank, unyank, compatibility override, delete.

Managed (built-in) versions are read-only: they come and go with Estate's own
``plugins/`` folder. Each function changes one version and leaves committing to the
caller, so a route does it in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import PluginVersion, Provider
from ..db.states import VersionSource
from .errors import PluginInUse, PluginNotFound
from .versions import resolve, version_named


class ReadOnlyVersion(PluginInUse):
    """A managed version cannot be yanked, overridden or deleted (409)."""


def stored_version(session: Session, key: str, version: str) -> PluginVersion:
    """The stored ``key`` ``version``, or ``PluginNotFound`` (404)."""
    found = version_named(session, key, version)
    if found is None:
        raise PluginNotFound(f"{key} has no version {version!r}")
    return found


def writable(version: PluginVersion) -> PluginVersion:
    """``version`` unless it is managed (``ReadOnlyVersion``)."""
    if version.source == VersionSource.MANAGED:
        raise ReadOnlyVersion(
            f"{version.key} {version.version} is a built-in (managed) version and read-only"
        )
    return version


def providers_of(session: Session, key: str) -> list[Provider]:
    vendor, _, provider_type = key.partition(":")
    return list(
        session.scalars(
            select(Provider)
            .where(Provider.vendor == vendor, Provider.provider_type == provider_type)
            .order_by(Provider.id)
        )
    )


def users_of(session: Session, version: PluginVersion) -> list[Provider]:
    """The providers whose policy resolves to ``version`` or pins it exactly."""
    users = []
    resolved: dict[str | None, PluginVersion | None] = {}
    for provider in providers_of(session, version.key):
        policy = provider.plugin_version
        if policy not in resolved:
            resolved[policy] = resolve(session, version.key, policy).version
        chosen = resolved[policy]
        if policy == version.version or (chosen is not None and chosen.id == version.id):
            users.append(provider)
    return users


def yank(version: PluginVersion, reason: str) -> None:
    writable(version)
    version.yanked, version.yanked_reason = True, reason
    version.yanked_at = datetime.now(UTC)


def unyank(version: PluginVersion) -> None:
    writable(version)
    version.yanked, version.yanked_reason, version.yanked_at = False, None, None


def override_compatibility(version: PluginVersion, *, override: bool, reason: str, by: str) -> None:
    writable(version)
    version.compatibility_override = override
    version.compatibility_override_reason = reason
    version.compatibility_override_by = by
    version.compatibility_override_at = datetime.now(UTC)


def delete_version(session: Session, version: PluginVersion) -> None:
    """Delete ``version`` unless a provider uses it (``PluginInUse`` naming them)."""
    writable(version)
    users = users_of(session, version)
    if users:
        named = ", ".join(f"{p.id} ({p.name})" for p in users)
        raise PluginInUse(
            f"{version.key} {version.version} is used by provider(s) {named}: "
            "pin them to another version first"
        )
    session.delete(version)
