"""Queries over stored plugin versions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion
from ..runtime.environment import PluginEnvironment, for_manifest
from .environments import sdk_environment, venv_python

PLUGIN_SUBDIR = "plugin"


def active_version(session: Session, key: str) -> PluginVersion | None:
    """The version jobs use for ``key``: the highest SemVer among the ready ones.

    Uploading an older version (or re-uploading one with ``force``) does not roll
    a plugin back; among equal versions the newest upload wins.
    """
    ready = session.scalars(
        select(PluginVersion).where(PluginVersion.key == key, PluginVersion.state == "ready")
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


def environment_for(version: PluginVersion, settings: Settings) -> PluginEnvironment:
    """Where a stored version's code is and the interpreter that runs it."""
    return environment_at(Path(version.path), version.manifest, settings)


def environment_at(
    root: Path, manifest: Mapping[str, Any], settings: Settings
) -> PluginEnvironment:
    """The environment of the version folder ``root``: its own venv's Python if it has
    one, else the shared SDK-only environment's."""
    plugin_dir = plugin_folder(root)
    python = venv_python(root)
    if not python.is_file():
        python = sdk_environment(settings)
    return for_manifest(plugin_dir, manifest, python=str(python))


def plugin_folder(root: Path) -> Path:
    """The plugin's own files inside the version folder ``root``."""
    plugin_dir = root / PLUGIN_SUBDIR
    # Managed plugins run from their folder in place.
    return plugin_dir if plugin_dir.is_dir() else root
