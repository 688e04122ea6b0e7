"""The conformance job: run the suite against a provider's platform, keep its report.

pending → running → completed | failed. The suite (``estate.conformance``) runs the
plugin version's own code in its own environment, as jobs run it, against the
provider's connection; each check's end moves the run's counters, so a client watching
``conformance-runs/{id}/`` sees it advance. ``completed`` means the suite ran to its
end, whatever the checks said (the report and the catalog say that); ``failed`` means
it could not run (``error`` says why). The provider's secrets are masked in the
error here and in the report by the suite.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from ..calls.specs import environment_of
from ..conformance import CheckResult, run_suite
from ..context import Context
from ..db.models import ConformanceRun, PluginVersion, Provider
from ..db.states import RunStatus, VersionState
from ..redaction import mask, maskable
from ..registry.integrity import mark_modified
from ..runtime.environments import plugin_folder
from ..runtime.errors import PluginModified, PluginStartError
from ..runtime.integrity import verify
from ..runtime.niceness import run_niced
from ..secretbox import SecretKeyError

logger = logging.getLogger(__name__)


def run_conformance(context: Context, run_id: int) -> None:
    """Execute one pending conformance run to its end. Never raises for plugin faults."""
    with context.sessions() as session:
        run = session.get(ConformanceRun, run_id)
        if run is None or run.status != RunStatus.PENDING:
            return
        version = session.get(PluginVersion, run.version_id) if run.version_id else None
        provider = session.get(Provider, run.provider_id) if run.provider_id else None
        if version is None or version.state != VersionState.READY:
            _end(context, run_id, error="the plugin version was removed before the run started")
            return
        if provider is None:
            _end(context, run_id, error="the provider was deleted before the run started")
            return
        try:
            secrets = context.box.open(provider.secrets)
        except SecretKeyError as exc:
            _end(context, run_id, error=f"the provider's secrets cannot be read: {exc}")
            return
        config: dict[str, Any] = {**provider.connection_config, **secrets}
        if provider.endpoint:
            config.setdefault("endpoint", provider.endpoint)
        plugin_dir = plugin_folder(Path(version.path))
        try:
            # The suite starts its own processes from the folder: checked here, once.
            environment = environment_of(version, context.settings)
            if version.files is not None:
                verify(plugin_dir, version.files)
        except PluginStartError as exc:
            if isinstance(exc, PluginModified):
                mark_modified(session, version.id, str(exc), provider_id=provider.id)
            _end(context, run_id, error=str(exc))
            return
        profiles = list(run.profiles) if run.profiles is not None else None
        run.status = RunStatus.RUNNING
        run.started_at = datetime.now(UTC)
        session.commit()
    hidden = maskable(secrets.values())
    counters = {"done": 0, "failed": 0}

    def progress(check: CheckResult) -> None:
        counters["done"] += 1
        counters["failed"] += check.status in ("fail", "error")
        with context.sessions() as session, session.begin():
            session.execute(
                update(ConformanceRun)
                .where(ConformanceRun.id == run_id)
                .values(checks_done=counters["done"], checks_failed=counters["failed"])
            )

    try:
        report = run_niced(  # background work, as a collection (runtime/niceness.py)
            context.settings.background_nice,
            lambda: run_suite(
                plugin_dir,
                config,
                profiles=profiles,
                python=Path(environment.python),
                progress=progress,
                settings=context.settings,
            ),
            f"estate-conformance-{run_id}",
        )
    except ValueError as exc:
        _end(context, run_id, error=mask(str(exc), hidden))
        return
    except Exception as exc:  # a job boundary: the run must end, and say why
        logger.exception("conformance run %s failed", run_id)
        _end(context, run_id, error=mask(f"the suite stopped: {exc}", hidden))
        return
    # The suite masks the provider's secrets in every message it writes (and checks that
    # the plugin let none out): the report is stored as it is.
    _end(context, run_id, report=report.to_json())


def _end(
    context: Context, run_id: int, *, error: str | None = None, report: dict[str, Any] | None = None
) -> None:
    checks = (report or {}).get("checks") or []
    values: dict[str, Any] = {
        "status": RunStatus.FAILED if report is None else RunStatus.COMPLETED,
        "error": error,
        "report": report,
        "finished_at": datetime.now(UTC),
    }
    if report is not None:
        values["suite_version"] = str(report.get("suite_version") or "")
        values["platform"] = str(report.get("platform") or "")[:300]
        values["checks_done"] = len(checks)
        values["checks_failed"] = sum(c.get("status") in ("fail", "error") for c in checks)
    with context.sessions() as session, session.begin():
        session.execute(update(ConformanceRun).where(ConformanceRun.id == run_id).values(**values))
