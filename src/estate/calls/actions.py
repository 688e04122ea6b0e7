"""Calling a provider's plugin about its actions: what it offers, and running one.

Both go to a provider's long-lived process (``runtime/supervisor.py``): asking what
is offered to the one connection tests use, running an action to one of its own
(``specs.action_slot``), so a long action holds up no listing. ``offered_actions`` asks the plugin (wire method ``actions``) which of its
declared actions apply to a resource, or to the provider itself, and whether each is
available now; a plugin without the method (written before actions, or in another
language) offers none. ``call_action`` runs one (wire method ``action``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..context import Context
from ..db.models import PluginVersion, Provider, Resource
from ..runtime.errors import PluginCallError
from .events import EventRecorder
from .runlog import RunLog
from .specs import credential_params, noting_modified, provider_slot, provider_spec


@dataclass(frozen=True)
class Offer:
    """What the plugin offers for one resource (or the provider): actions and profiles."""

    actions: list[dict[str, Any]]
    profiles: list[str]

    def find(self, name: str) -> dict[str, Any] | None:
        return next((spec for spec in self.actions if spec.get("name") == name), None)


def resource_record(resource: Resource) -> dict[str, Any]:
    """The stored resource as the plugin's ``available`` check sees it."""
    return {
        "ems_ref": resource.ems_ref,
        "resource_type_slug": resource.resource_type,
        "name": resource.name,
        "state": resource.state,
        "power_state": resource.power_state,
        "cpu_count": resource.cpu_count,
        "memory_mb": resource.memory_mb,
        "properties": resource.properties or {},
        "provider_tags": resource.provider_tags or {},
    }


def provider_call(
    context: Context,
    provider: Provider,
    version: PluginVersion,
    method: str,
    params: dict[str, Any],
    *,
    log: RunLog,
    events: EventRecorder,
    timeout: float | None = None,
    slot: tuple[str, int] | None = None,
) -> Any:
    """``method`` on the provider's long-lived process (``slot``: another one of the
    provider's, such as ``action_slot``'s); its lines go to ``log``.

    Raises ``PluginRuntimeError`` (``PluginCallError`` when the plugin answered an
    error) or ``SecretKeyError`` when the provider's secrets cannot be opened.
    """
    credential = credential_params(context, provider, log)
    with noting_modified(
        context, version, provider_id=provider.id, action_run_id=events.action_run_id
    ):
        spec = provider_spec(context.settings, version, provider, credential, log.secrets)
        return context.supervisor.call(
            slot or provider_slot(provider.id),
            spec,
            method,
            params,
            timeout=timeout,
            on_notification=events.notified,
            on_log=log.add,
        )


def offered_actions(
    context: Context,
    provider: Provider,
    version: PluginVersion,
    resource: Resource | None,
) -> Offer:
    """The plugin's actions for ``resource`` (None: the provider-level ones).

    Raises ``PluginRuntimeError`` when the plugin cannot answer.
    """
    log = RunLog()
    events = EventRecorder(log, provider_id=provider.id, run_id=None, plugin_key=provider.key)
    params = {"resource": resource_record(resource) if resource is not None else None}
    try:
        answer = provider_call(
            context, provider, version, "actions", params, log=log, events=events
        )
    except PluginCallError as exc:
        if exc.kind == "unsupported":  # a plugin that predates actions offers none
            return Offer(actions=[], profiles=[])
        raise
    finally:
        if events.pending:
            with context.sessions() as session, session.begin():
                events.store(session)
    if not isinstance(answer, dict) or not isinstance(answer.get("actions"), list):
        return Offer(actions=[], profiles=[])
    actions = [spec for spec in answer["actions"] if isinstance(spec, dict) and spec.get("name")]
    profiles = [p for p in answer.get("profiles") or [] if isinstance(p, str)]
    return Offer(actions=actions, profiles=profiles)
