"""Built-in ("managed") plugins: the folders under ``plugins/``, registered at start-up.

A managed plugin runs from its folder in place, its files listed and signed with the
installation's managed key as it is registered (``integrity.sign_managed``). It is registered again only when its
content changed (its sha256 covers the packed folder), so start-up stays fast. One with
requirements (a platform's client library) runs in an environment made of them in the
environments folder; until that is built the version is ``preparing`` and a background
job builds it (``jobs.prepare``).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion
from ..db.states import VersionSource, VersionState
from ..runtime.environments import (
    build_requirements_environment,
    environment_at,
    managed_requirements,
    requirements_environment,
)
from ..runtime.errors import PluginEnvironmentError
from .archive import pack, sha256_of
from .errors import InstallFailed, InvalidPackage
from .install import INCOMING, STALE_STAGING_SECONDS, STORE_LOCK, Defined, _record, define
from .integrity import is_signed_by_managed, sign_managed
from .keyring import Sealer
from .manifest import Manifest, parse_manifest

NOT_DEFINED = Defined(class_path="", metadata={})

logger = logging.getLogger(__name__)


def plugin_folders(root: Path) -> list[Path]:
    """Every ``<vendor>/<type>/`` folder holding a ``manifest.yml``."""
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.glob("*/*/manifest.yml"))


def register_managed(session: Session, settings: Settings, box: Sealer) -> list[str]:
    """Register or refresh every managed plugin; returns the problems found.

    A plugin whose environment is still to be built is recorded ``preparing``:
    :func:`preparing_versions` lists those for the start-up to prepare in the
    background (:func:`prepare_managed`), so the service starts without waiting.
    """
    problems = []
    for folder in plugin_folders(settings.managed_plugins_dir):
        try:
            register_folder(session, settings, box, folder)
        except InvalidPackage as exc:
            session.rollback()
            problems.append(f"{folder}: {exc}")
            logger.error("managed plugin %s not registered: %s", folder, exc)
    return problems


def register_folder(
    session: Session, settings: Settings, box: Sealer, folder: Path
) -> PluginVersion:
    """Record ``folder`` as the managed version of its plugin, if it is new or changed."""
    manifest = parse_manifest((folder / "manifest.yml").read_bytes())
    sha = sha256_of(pack(folder))
    current = session.scalar(
        select(PluginVersion).where(
            PluginVersion.key == manifest.key, PluginVersion.version == manifest.version
        )
    )
    if current is not None and current.source != VersionSource.MANAGED:
        # An operator uploaded this version over the built-in one: theirs stays.
        logger.info(
            "%s %s was uploaded over the built-in plugin; keeping the upload",
            manifest.key,
            manifest.version,
        )
        return current
    unchanged = current is not None and current.sha256 == sha and current.path == str(folder)
    if (
        unchanged
        and current is not None
        and current.state == VersionState.READY
        and current.definition is not None  # recorded before definitions were kept
    ):
        if not is_signed_by_managed(session, current):  # listed before 0015, or key replaced
            sign_managed(session, settings, box, folder, manifest.key, manifest.version).apply(
                current
            )
            session.commit()
        return current
    signed = sign_managed(session, settings, box, folder, manifest.key, manifest.version)
    requirements = managed_requirements(folder, _as_json(manifest))
    if requirements is not None and not _built(settings, requirements):
        record = _record(manifest, NOT_DEFINED, sha, folder, source=VersionSource.MANAGED, log="")
        record.state = VersionState.PREPARING
        logger.info(
            "managed plugin %s %s: its environment (%s) is prepared in the background",
            manifest.key,
            manifest.version,
            requirements.name,
        )
    else:
        defined = _define(folder, manifest, settings, sha)
        record = _record(manifest, defined, sha, folder, source=VersionSource.MANAGED, log="")
    signed.apply(record)
    if current is not None:
        session.delete(current)
        session.flush()
    session.add(record)
    session.commit()
    logger.info(
        "registered managed plugin %s %s (%s)", manifest.key, manifest.version, record.state
    )
    return record


def preparing_versions(session: Session) -> list[int]:
    """The managed versions whose environment is still to be built."""
    return list(
        session.scalars(
            select(PluginVersion.id).where(
                PluginVersion.source == VersionSource.MANAGED,
                PluginVersion.state == VersionState.PREPARING,
            )
        )
    )


def prepare_managed(folder: Path, settings: Settings) -> tuple[Defined, str]:
    """Build a managed folder's environment and ask the plugin to define itself in it.

    Raises ``InvalidPackage`` (``InstallFailed`` with the installer's log) as an
    upload's preparation does.
    """
    manifest = parse_manifest((folder / "manifest.yml").read_bytes())
    requirements = managed_requirements(folder, _as_json(manifest))
    log = ""
    if requirements is not None:
        try:
            log = build_requirements_environment(settings, requirements)
        except PluginEnvironmentError as exc:
            raise InstallFailed(str(exc), exc.log) from None
    return _define(folder, manifest, settings, sha256_of(pack(folder))), log


# What each managed folder defined, by its digest and interpreter: every start of a
# service (and each test's) registers them again, and a define is a process start.
_DEFINED: dict[tuple[str, str], Defined] = {}


def _define(folder: Path, manifest: Manifest, settings: Settings, sha: str) -> Defined:
    environment = environment_at(folder, _as_json(manifest), settings)
    key = (sha, environment.python)
    if key not in _DEFINED:
        _DEFINED[key] = define(environment, manifest, settings)
    return _DEFINED[key]


def _built(settings: Settings, requirements: Path) -> bool:
    return (requirements_environment(settings, requirements) / "bin" / "python").is_file()


def _as_json(manifest: Manifest) -> dict[str, Any]:
    return manifest.model_dump(mode="json", exclude_none=True)


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
