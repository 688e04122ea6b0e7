"""The collection job: run a provider's plugin and ingest what it finds.

pending → running → completed | partial | failed | canceled. Counters are flushed
about once a second so the API shows progress while the run goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from inventory_providers.protocol import BATCH_METHOD

from ..calls.events import EventRecorder
from ..calls.runlog import RunLog
from ..calls.specs import credential_params, noting_modified, plugin_process, provider_model
from ..context import Context
from ..db.models import CollectionRun, PluginVersion, Provider
from ..db.states import RunStatus
from ..inventory.ingest import Ingestor
from ..registry.versions import Resolution, resolve_for_job
from ..runtime.errors import PluginRuntimeError
from ..runtime.host import PluginProcess
from ..runtime.niceness import run_niced
from ..secretbox import SecretKeyError

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
PAUSES_WORTH_A_LINE = 1.0  # seconds waited for requests, said in the run's log
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


class RunFailed(Exception):
    """The run cannot go on; the message tells the operator what to do."""


def run_collection(context: Context, run_id: int) -> None:
    """Execute one pending collection run to its end. Never raises for plugin faults."""
    with context.sessions() as session:
        run = session.get(CollectionRun, run_id)
        if run is None or run.status != RunStatus.PENDING:
            return
        provider = session.get(Provider, run.provider_id)
        resolution = resolve_for_job(session, provider) if provider else Resolution(None)
        version = resolution.version
        run.status = RunStatus.RUNNING
        run.started_at = datetime.now(UTC)
        if version is not None:
            run.plugin_version, run.plugin_sha256 = version.version, version.sha256
        session.commit()
        targets = frozenset(run.target_resource_types or ()) or None
    assert provider is not None  # the run's foreign key cascades with its provider
    logger.info(
        "collection run %d of provider %d (%s) started%s",
        run_id,
        provider.id,
        provider.key,
        f", targeted at {', '.join(sorted(targets))}" if targets else "",
    )
    job = _CollectionJob(context, run_id, provider, version, targets)
    job.unresolved = resolution.reason
    for warning in resolution.warnings:
        job.log.add("warning", warning)
    # Background work: the job, its plugin and its ingest writer yield the CPU to the
    # threads answering requests (runtime/niceness.py).
    run_niced(context.settings.background_nice, job.run, f"estate-collection-{run_id}")


def failure_message(exc: Exception, run_id: int, driver_error: type[Exception]) -> str:
    """What a run that failed of ``exc`` tells its readers: a sentence, never the SQL
    statement or its parameters (every user may read a run); the service log has those.

    ``driver_error``: the base of the database driver's own errors (ingest runs some
    statements on the driver's cursor, whose errors SQLAlchemy does not wrap).
    """
    if isinstance(exc, DBAPIError | driver_error):
        return (
            "storing the collected resources failed: the database refused a write; "
            f"see the service log (run {run_id})"
        )
    if isinstance(exc, OSError):
        return f"the run failed: {exc.strerror or type(exc).__name__}; see the service log (run {run_id})"
    return f"internal error ({type(exc).__name__}); see the service log (run {run_id})"


def incomplete_parts(reported: Any) -> list[dict[str, str]]:
    """The parts of the platform the plugin reported it could not read
    (``BaseProvider.report_incomplete``); a malformed list fails the run."""
    if reported is None:
        return []
    if not isinstance(reported, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("part"), str)
        and isinstance(item.get("error"), str)
        for item in reported
    ):
        raise RunFailed(
            "the plugin answered collect with a malformed 'incomplete' list "
            "(each item must be {'part': str, 'error': str}); fix the plugin"
        )
    return [{"part": item["part"][:200], "error": item["error"][:2000]} for item in reported]


class _CollectionJob:
    def __init__(
        self,
        context: Context,
        run_id: int,
        provider: Provider,
        version: PluginVersion | None,
        targets: frozenset[str] | None = None,
    ) -> None:
        self.context = context
        self.targets = targets
        self.run_id = run_id
        self.provider = provider
        self.version = version
        self.log = RunLog()
        self.events = EventRecorder(
            self.log, provider_id=provider.id, run_id=run_id, plugin_key=provider.key
        )
        self.ingestor = Ingestor(
            context.engine,
            provider_id=provider.id,
            run_id=run_id,
            allowed_types=version.manifest.get("supported_resource_types") if version else None,
            sighting_retention_days=context.settings.sighting_retention_days,
            target_types=targets,
            warn=lambda line: self.log.add("warning", line),
            pause=context.step_aside,
        )
        self.process: PluginProcess | None = None
        self.unresolved: str | None = None  # why no version resolved, when none did
        self._driver_error: type[Exception] = context.engine.dialect.loaded_dbapi.Error
        self._canceled = threading.Event()
        self._cancel_requested = False
        self._started = self._last_flush = time.monotonic()

    def run(self) -> None:
        status, message = RunStatus.FAILED, None
        watchdog = threading.Thread(
            target=self._watch_cancel, daemon=True, name="estate-run-cancel"
        )
        watchdog.start()
        try:
            result = self._collect()
            self.ingestor.flush()
            if self.ingestor.paused >= PAUSES_WORTH_A_LINE:
                self.log.add(
                    "info",
                    f"waited {self.ingestor.paused:.1f} s between batches while the service "
                    "answered requests (ESTATE_BACKGROUND_YIELD)",
                )
            if self.ingestor.skipped:
                self.log.add(
                    "info",
                    f"the plugin sent {self.ingestor.skipped} resource(s) of types this "
                    "targeted run did not ask for; they were left as they were",
                )
            for item in result.get("rejected") or []:
                if isinstance(item, dict):
                    ref = item.get("ems_ref")
                    ref = ref if isinstance(ref, str) else None
                    self.ingestor.reject(ref, str(item.get("error")), item.get("index"))
            unread = incomplete_parts(result.get("incomplete"))
            errors = self.ingestor.counters.errors
            status = RunStatus.COMPLETED if errors == 0 and not unread else RunStatus.PARTIAL
            reasons = [f"could not read {item['part']}: {item['error']}" for item in unread]
            if errors:
                reasons.append(f"{errors} resource(s) rejected; see error_details")
            if reasons:
                message = self.log.mask("; ".join(reasons))
        except (RunFailed, PluginRuntimeError, SecretKeyError) as exc:
            if self._canceled.is_set() and self._cancel_requested:
                status, message = RunStatus.CANCELED, "canceled by request"
            else:
                status, message = RunStatus.FAILED, self.log.mask(str(exc))
        except Exception as exc:  # job boundary: an ingest bug fails this run only
            logger.exception("collection run %s failed", self.run_id)
            status, message = (
                RunStatus.FAILED,
                failure_message(exc, self.run_id, self._driver_error),
            )
        finally:
            self._canceled.set()
            if self.process is not None:
                self.process.stop()
        try:
            self.ingestor.finish(complete=status == RunStatus.COMPLETED)
        except Exception as exc:  # job boundary: storing failed after the plugin finished
            logger.exception("collection run %s could not be stored", self.run_id)
            if status in (RunStatus.COMPLETED, RunStatus.PARTIAL):
                status, message = (
                    RunStatus.FAILED,
                    failure_message(exc, self.run_id, self._driver_error),
                )
        if message:
            self.log.add("error" if status == RunStatus.FAILED else "warning", message)
        self._flush(status=status, message=message, finished=True)
        self._log_end(status, message)

    def _log_end(self, status: str, message: str | None) -> None:
        c = self.ingestor.counters
        logger.info(
            "collection run %d of provider %d (%s) %s in %.1f s: found %d, created %d, "
            "updated %d, unchanged %d, deleted %d, errors %d%s",
            self.run_id,
            self.provider.id,
            self.provider.key,
            status,
            time.monotonic() - self._started,
            c.found,
            c.created,
            c.updated,
            c.unchanged,
            c.deleted,
            c.errors,
            f"; {message}" if message else "",
        )

    def _collect(self) -> dict[str, Any]:
        if self.version is None:
            raise RunFailed(
                self.unresolved
                or f"no plugin is installed for {self.provider.key!r}; upload one with "
                "POST /api/inventory/v1/provider-plugins/upload/ (or `estate plugin upload`)"
            )
        if not self.provider.enabled:
            raise RunFailed("provider is disabled; enable it before collecting")
        settings = self.context.settings
        credential = credential_params(self.context, self.provider, self.log)
        self.log.add("info", f"starting {self.provider.key} {self.version.version}")
        with noting_modified(
            self.context, self.version, provider_id=self.provider.id, run_id=self.run_id
        ):
            self.process = plugin_process(settings, self.version, self.log.add, self.provider.id)
            self.process.start()
        self.process.call(
            "configure",
            {"provider": provider_model(self.provider), "credential": credential},
        )
        if self._canceled.is_set():  # asked before collect began: no $/cancel could reach it
            raise RunFailed("canceled by request")
        params: dict[str, Any] = {"batch_size": settings.batch_size}
        if self.targets:
            # Plugins that can filter collect only these; the ingestor drops the rest.
            params["target_resource_types"] = sorted(self.targets)
            self.log.add(
                "info", f"targeted collection of {', '.join(params['target_resource_types'])}"
            )
        result: dict[str, Any] = self.process.call(
            "collect",
            params,
            timeout=settings.run_timeout,
            on_notification=self._on_notification,
        )
        return result

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "event":
            self.events.add(params)
        elif method == BATCH_METHOD:
            resources = params.get("resources")
            if not isinstance(resources, list):
                raise RunFailed("plugin sent a collect.batch without a resources list")
            if self._canceled.is_set():
                return  # canceled: what still arrives before the plugin stops is dropped
            self.ingestor.add_batch(resources)
        else:
            return
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._flush()

    def _watch_cancel(self) -> None:
        """Poll for a cancel request; pass it to the plugin as ``$/cancel``.

        The plugin stops between two resources and answers ``collect`` with a
        ``canceled`` error; one that does not within ``cancel_grace`` seconds is killed.
        """
        while not self._canceled.wait(FLUSH_SECONDS):
            with self.context.sessions() as session:
                wanted = session.scalar(
                    select(CollectionRun.cancel_requested).where(CollectionRun.id == self.run_id)
                )
            if wanted:
                self._cancel_requested = True
                self._canceled.set()
                self.log.add("info", "cancel requested; asking the plugin to stop")
                if self.process is not None:
                    self.process.cancel(self.context.settings.cancel_grace)
                return

    def _flush(
        self, *, status: str | None = None, message: str | None = None, finished: bool = False
    ) -> None:
        self._last_flush = time.monotonic()
        counters = self.ingestor.counters
        values: dict[str, Any] = {
            "resources_found": counters.found,
            "resources_created": counters.created,
            "resources_updated": counters.updated,
            "resources_unchanged": counters.unchanged,
            "resources_deleted": counters.deleted,
            "resources_restored": counters.restored,
            "errors": counters.errors,
            "error_details": self.ingestor.problems,
            "log": self.log.text(),
        }
        if status is not None:
            values["status"] = status
            values["error_message"] = message
        if finished:
            values["finished_at"] = datetime.now(UTC)
        with self.context.sessions() as session, session.begin():
            session.execute(
                update(CollectionRun).where(CollectionRun.id == self.run_id).values(**values)
            )
            self.events.store(session)
            if finished and status in (RunStatus.COMPLETED, RunStatus.PARTIAL):
                session.execute(
                    update(Provider)
                    .where(Provider.id == self.provider.id)
                    .values(last_refresh_at=datetime.now(UTC))
                )
