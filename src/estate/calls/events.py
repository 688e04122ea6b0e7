"""Events a plugin publishes during a job or a call: checked, masked, kept until stored.

The plugin side is ``BaseProvider.publish_event``; on the wire each event is an
``event`` notification (see ``docs/protocol.md``). The host checks every one again
with the SDK's ``validate_event``: a bad event is ignored with a warning in the run's
log, never failing the run. At most ``MAX_EVENTS_PER_RUN`` are kept per run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from inventory_providers.base import validate_event

from ..db.models import Event
from ..db.storable import INT_MAX, INT_MIN
from .runlog import RunLog

MAX_EVENTS_PER_RUN = 1000


class EventRecorder:
    """Collects one run's events; :meth:`store` writes the pending ones in a transaction."""

    def __init__(
        self,
        log: RunLog,
        *,
        provider_id: int | None,
        run_id: int | None,
        plugin_key: str,
        action_run_id: int | None = None,
    ) -> None:
        self.log = log
        self.provider_id = provider_id
        self.run_id = run_id
        self.action_run_id = action_run_id
        self.plugin_key = plugin_key
        self.received = 0
        self.pending: list[dict[str, Any]] = []

    def add(self, params: dict[str, Any]) -> None:
        """Take one ``event`` notification's params, or log why it was ignored."""
        self.received += 1
        if self.received > MAX_EVENTS_PER_RUN:
            if self.received == MAX_EVENTS_PER_RUN + 1:
                self.log.add(
                    "warning",
                    f"the plugin published over {MAX_EVENTS_PER_RUN} events; the rest are ignored",
                )
            return
        try:
            event = validate_event(params)
        except ValueError as exc:
            self.log.add("warning", f"ignored an event from the plugin: {exc}")
            return
        self.pending.append(
            {
                "provider_id": self.provider_id,
                "run_id": self.run_id,
                "action_run_id": self.action_run_id,
                "plugin_key": self.plugin_key,
                "type": event["type"],
                "severity": event["severity"],
                "message": self._text(event["message"]),
                "data": self._masked(event["data"]),
                "created_at": datetime.now(UTC),
            }
        )

    def notified(self, method: str, params: dict[str, Any]) -> None:
        """A ``PluginProcess`` notification handler that keeps ``event`` notifications."""
        if method == "event":
            self.add(params)

    def store(self, session: Session) -> None:
        """Insert the pending events with ``session`` (the caller commits)."""
        if self.pending:
            session.execute(insert(Event), self.pending)
            self.pending = []

    def _text(self, text: str) -> str:
        # Masked, and NUL escaped: PostgreSQL stores none in text or JSONB.
        return self.log.mask(text)

    def _masked(self, value: Any) -> Any:
        # A plugin may echo a secret into the data too; mask every string in it.
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {self._text(str(k)): self._masked(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._masked(item) for item in value]
        if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            return str(value)  # no JSON column holds it as a number; keep its digits
        return value
