"""The action job: run one lifecycle action through the plugin, then refresh the inventory.

pending → running → completed | failed | canceled. The action goes to the provider's
long-lived process (``calls/actions.py``); when it succeeds, a targeted collection of
the resource's type (a full one after a provider-level action) runs in this same job,
so the inventory and its history show the new state, attributed to that collection
run, whose id the action run keeps (``refresh_run_id``). The action run ends when the
refresh has: whoever waits for ``completed`` then reads the new state.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from ..calls.actions import provider_call
from ..calls.events import EventRecorder
from ..calls.runlog import RunLog
from ..calls.specs import action_slot
from ..context import Context
from ..db.models import ActionRun, CollectionRun, PluginVersion, Provider, Resource
from ..db.states import RunStatus
from ..registry.versions import resolve_for_job
from ..runtime.errors import PluginRuntimeError
from ..secretbox import SecretKeyError
from .collect import ACTIVE, run_collection

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
MAX_RESULT_BYTES = 1_000_000


def run_action(context: Context, run_id: int) -> None:
    """Execute one pending action run to its end. Never raises for plugin faults."""
    with context.sessions() as session:
        run = session.get(ActionRun, run_id)
        if run is None or run.status != RunStatus.PENDING:
            return
        provider = session.get(Provider, run.provider_id)
        assert provider is not None  # the run's foreign key cascades with its provider
        resolution = resolve_for_job(session, provider)
        version = resolution.version
        if version is not None:
            run.plugin_version, run.plugin_sha256 = version.version, version.sha256
        resource = session.get(Resource, run.resource_id) if run.resource_id else None
        run.status = RunStatus.RUNNING
        run.started_at = datetime.now(UTC)
        session.commit()
        session.expunge_all()
    job = _ActionJob(context, run, provider, version, resource)
    job.unresolved = resolution.reason
    for warning in resolution.warnings:
        job.log.add("warning", warning)
    job.run()


class _ActionJob:
    def __init__(
        self,
        context: Context,
        run: ActionRun,
        provider: Provider,
        version: PluginVersion | None,
        resource: Resource | None,
    ) -> None:
        self.context = context
        self.run_id = run.id
        self.name = run.action
        self.ems_ref = run.ems_ref
        self.parameters = dict(run.parameters or {})
        self.sealed = run.secret_parameters
        self.provider = provider
        self.version = version
        self.resource_type = resource.resource_type if resource is not None else None
        self.log = RunLog()
        self.events = EventRecorder(
            self.log,
            provider_id=provider.id,
            run_id=None,
            plugin_key=provider.key,
            action_run_id=run.id,
        )
        self._done = threading.Event()
        self._cancel_requested = False
        self.unresolved: str | None = None  # why no version resolved, when none did

    def run(self) -> None:
        values: dict[str, Any] = {}
        watchdog = threading.Thread(
            target=self._watch_cancel, daemon=True, name="estate-action-cancel"
        )
        watchdog.start()
        try:
            result = self._act()
            # A cancelable action may stop early and answer: it still was canceled.
            ended = RunStatus.CANCELED if self._cancel_requested else RunStatus.COMPLETED
            values = {"status": ended, "result": self._stored(result)}
            if self._cancel_requested:
                values["error"] = "canceled by request"
        except PluginRuntimeError as exc:
            if exc.kind == "canceled" or self._cancel_requested:
                values = {"status": RunStatus.CANCELED, "error": "canceled by request"}
            else:
                values = {
                    "status": RunStatus.FAILED,
                    "error": self.log.mask(str(exc)),
                    "error_kind": exc.kind,
                }
        except SecretKeyError as exc:
            values = {"status": RunStatus.FAILED, "error": str(exc), "error_kind": "internal"}
        except Exception:  # job boundary: a bug fails this run only
            logger.exception("action run %s failed", self.run_id)
            values = {
                "status": RunStatus.FAILED,
                "error": f"internal error; see the service log (action run {self.run_id})",
                "error_kind": "internal",
            }
        finally:
            self._done.set()
        if values["status"] == RunStatus.COMPLETED:
            values["refresh_run_id"] = self._refresh()
        elif values.get("error"):
            self.log.add("error", values["error"])
        self._finish(values)

    def _act(self) -> Any:
        if self.version is None:
            raise PluginRuntimeError(
                self.unresolved or f"no plugin is installed for {self.provider.key!r}"
            )
        secrets = self.context.box.open(self.sealed)
        self.log.redact(secrets.values())
        params = {**{k: v for k, v in self.parameters.items() if k not in secrets}, **secrets}
        target = f" on {self.ems_ref}" if self.ems_ref else ""
        self.log.add(
            "info", f"running {self.name}{target} with {self.provider.key} {self.version.version}"
        )
        result = provider_call(
            self.context,
            self.provider,
            self.version,
            "action",
            {"name": self.name, "ems_ref": self.ems_ref, "params": params},
            log=self.log,
            events=self.events,
            timeout=self.context.settings.run_timeout,
            slot=action_slot(self.provider.id),
        )
        self.log.add("info", f"{self.name} done")
        return result.get("result") if isinstance(result, dict) else None

    def _stored(self, result: Any) -> Any:
        """The result as stored and shown: the plugin's secrets masked, its size bounded."""
        text = self.log.mask(json.dumps(result, default=str))
        if len(text) > MAX_RESULT_BYTES:
            self.log.add("warning", f"the result ({len(text)} bytes) was too large to keep")
            return {"truncated": True}
        return json.loads(text)

    def _refresh(self) -> int | None:
        """Run the targeted collection that shows the action's effect; its run id."""
        with self.context.sessions() as session, session.begin():
            busy = session.scalar(
                select(CollectionRun.id).where(
                    CollectionRun.provider_id == self.provider.id, CollectionRun.status.in_(ACTIVE)
                )
            )
            if busy is not None:
                self.log.add(
                    "warning",
                    f"collection run {busy} is in progress; the inventory shows the action "
                    "after the next collection",
                )
                return None
            targets = [self.resource_type] if self.resource_type else None
            refresh = CollectionRun(
                provider_id=self.provider.id,
                plugin_key=self.provider.key,
                trigger=f"action:{self.run_id}",
                collection_type="targeted" if targets else "full",
                target_resource_types=targets,
            )
            session.add(refresh)
            session.flush()
            refresh_id = refresh.id
            session.execute(
                update(ActionRun)
                .where(ActionRun.id == self.run_id)
                .values(refresh_run_id=refresh_id, log=self.log.text())
            )
        self.log.add("info", f"refreshing the inventory: collection run {refresh_id}")
        run_collection(self.context, refresh_id)
        with self.context.sessions() as session:
            status = session.scalar(
                select(CollectionRun.status).where(CollectionRun.id == refresh_id)
            )
        if status != RunStatus.COMPLETED:
            self.log.add("warning", f"the refresh (collection run {refresh_id}) ended {status}")
        return refresh_id

    def _finish(self, values: dict[str, Any]) -> None:
        values = {**values, "log": self.log.text(), "finished_at": datetime.now(UTC)}
        with self.context.sessions() as session, session.begin():
            session.execute(update(ActionRun).where(ActionRun.id == self.run_id).values(**values))
            self.events.store(session)
        logger.info(
            "action run %d (%s on %s of provider %d) %s",
            self.run_id,
            self.name,
            self.ems_ref or "the provider",
            self.provider.id,
            values["status"],
        )

    def _watch_cancel(self) -> None:
        """Poll for a cancel request; pass it to the plugin (``$/cancel``, then a kill)."""
        while not self._done.wait(POLL_SECONDS):
            with self.context.sessions() as session:
                wanted = session.scalar(
                    select(ActionRun.cancel_requested).where(ActionRun.id == self.run_id)
                )
            if wanted:
                self._cancel_requested = True
                self.log.add("info", "cancel requested; asking the plugin to stop")
                self.context.supervisor.cancel(action_slot(self.provider.id))
                return
