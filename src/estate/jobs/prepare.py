"""The preparation job: finish a plugin version uploaded with ``?wait=false``, or a
built-in one whose environment was not built yet at start-up.

The upload (or the start-up) stored the version ``preparing`` right after the
archive and manifest checks; this job builds its environment and asks the plugin to
define itself, and the version ends ``ready`` or ``failed``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm.exc import StaleDataError

from ..context import Context
from ..db.models import PluginVersion
from ..db.states import VersionSource, VersionState
from ..registry.errors import InvalidPackage
from ..registry.install import prepare, read_manifest
from ..registry.managed import prepare_managed
from ..runtime.environments import PLUGIN_SUBDIR, remove_environment

logger = logging.getLogger(__name__)


def prepare_version(context: Context, version_id: int) -> None:
    """Prepare a version stored ``preparing``; it ends ``ready`` or ``failed``.

    A failure changes nothing but the version's row (state, error, install log): the
    previously active version keeps serving jobs, since only ``ready`` ones are used.
    """
    with context.sessions() as session:
        version = session.get(PluginVersion, version_id)
        if version is None or version.state != VersionState.PREPARING:
            return
        root = Path(version.path)
        try:
            if version.source == VersionSource.MANAGED:
                defined, log = prepare_managed(root, context.settings)
            else:
                manifest = read_manifest(root / PLUGIN_SUBDIR)
                defined, log = prepare(root, manifest, context.settings)
        except InvalidPackage as exc:
            _fail(version, str(exc), getattr(exc, "log", ""))
        except Exception as exc:  # a job boundary: the version must not stay "preparing"
            logger.exception("preparing %s %s failed", version.key, version.version)
            _fail(version, f"preparing the environment failed: {exc}", "")
        else:
            version.class_path = defined.class_path
            version.definition = defined.definition
            version.install_log = log
            version.error = None
            version.state = VersionState.READY
        try:
            session.commit()
        except StaleDataError:  # deleted while it was prepared; its folder goes at refresh
            session.rollback()
            logger.info("version %s was removed while it was prepared", version_id)


def _fail(version: PluginVersion, error: str, log: str) -> None:
    remove_environment(Path(version.path))
    version.state = VersionState.FAILED
    version.error = error
    version.install_log = log
    logger.warning("%s %s failed to prepare: %s", version.key, version.version, error)
