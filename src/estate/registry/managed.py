"""Built-in ("managed") plugins: the folders under ``plugins/``, registered at start-up.

A managed plugin runs from its folder in place. It is registered again only when its
content changed (its sha256 covers the packed folder), so start-up stays fast.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion
from ..db.states import VersionSource
from ..runtime.environments import PluginEnvironment
from .archive import pack, sha256_of
from .errors import InvalidPackage
from .install import INCOMING, STALE_STAGING_SECONDS, STORE_LOCK, _record, define
from .manifest import parse_manifest

logger = logging.getLogger(__name__)


def plugin_folders(root: Path) -> list[Path]:
    """Every ``<vendor>/<type>/`` folder holding a ``manifest.yml``."""
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.glob("*/*/manifest.yml"))


def register_managed(session: Session, settings: Settings) -> list[str]:
    """Register or refresh every managed plugin; returns the problems found."""
    problems = []
    for folder in plugin_folders(settings.managed_plugins_dir):
        try:
            register_folder(session, settings, folder)
        except InvalidPackage as exc:
            session.rollback()
            problems.append(f"{folder}: {exc}")
            logger.error("managed plugin %s not registered: %s", folder, exc)
    return problems


def register_folder(session: Session, settings: Settings, folder: Path) -> PluginVersion:
    """Record ``folder`` as the managed version of its plugin, if it is new or changed."""
    manifest = parse_manifest((folder / "manifest.yml").read_bytes())
    sha = sha256_of(pack(folder))
    current = session.scalar(
        select(PluginVersion).where(
            PluginVersion.key == manifest.key, PluginVersion.version == manifest.version
        )
    )
    if current is not None and current.sha256 == sha and current.path == str(folder):
        return current
    if current is not None and current.source != VersionSource.MANAGED:
        # An operator uploaded this version over the built-in one: theirs stays.
        logger.info(
            "%s %s was uploaded over the built-in plugin; keeping the upload",
            manifest.key,
            manifest.version,
        )
        return current
    defined = define(PluginEnvironment(folder), manifest, settings)
    if current is not None:
        session.delete(current)
        session.flush()
    record = _record(manifest, defined, sha, folder, source=VersionSource.MANAGED, log="")
    session.add(record)
    session.commit()
    logger.info("registered managed plugin %s %s", manifest.key, manifest.version)
    return record


def remove_unreferenced(session: Session, settings: Settings) -> int:
    """Delete stored version folders no record points at (left by forced overwrites)."""
    root = settings.plugins_dir
    if not root.is_dir():
        return 0
    _remove_stale_staging(root / INCOMING)
    removed = 0
    with STORE_LOCK:
        session.commit()  # read the paths in a new transaction: one opened earlier may miss an upload
        known = {Path(p) for p in session.scalars(select(PluginVersion.path))}
        for folder in root.glob("*/*/*"):
            if folder.parts[len(root.parts)] == INCOMING:  # uploads being prepared
                continue
            if folder.is_dir() and folder not in known:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def _remove_stale_staging(incoming: Path) -> None:
    """Remove staging folders left by uploads that died, never one still installing."""
    if not incoming.is_dir():
        return
    cutoff = time.time() - STALE_STAGING_SECONDS
    for stage in incoming.iterdir():
        try:
            if stage.stat().st_mtime < cutoff:
                shutil.rmtree(stage, ignore_errors=True)
        except FileNotFoundError:  # its upload finished meanwhile
            continue
