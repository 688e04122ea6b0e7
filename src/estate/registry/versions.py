"""Queries over stored plugin versions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import PluginVersion
from ..runtime.environment import PluginEnvironment

PLUGIN_SUBDIR = "plugin"
SITE_SUBDIR = "site"


def active_version(session: Session, key: str) -> PluginVersion | None:
    """The version jobs use for ``key``: the newest one that is ready."""
    return session.scalars(
        select(PluginVersion)
        .where(PluginVersion.key == key, PluginVersion.state == "ready")
        .order_by(PluginVersion.created_at.desc(), PluginVersion.id.desc())
        .limit(1)
    ).first()


def versions_of(session: Session, key: str) -> list[PluginVersion]:
    return list(
        session.scalars(
            select(PluginVersion)
            .where(PluginVersion.key == key)
            .order_by(PluginVersion.created_at.desc(), PluginVersion.id.desc())
        )
    )


def environment_for(version: PluginVersion) -> PluginEnvironment:
    """Where a stored version's code and private packages are."""
    root = Path(version.path)
    plugin_dir = root / PLUGIN_SUBDIR
    if not plugin_dir.is_dir():  # managed plugins run from their folder in place
        plugin_dir = root
    site = root / SITE_SUBDIR
    return PluginEnvironment(plugin_dir=plugin_dir, site_dir=site if site.is_dir() else None)
