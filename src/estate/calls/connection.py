"""Test a provider's connection through its plugin, synchronously (for the API's test/).

The call goes to the provider's long-lived process (``runtime/supervisor.py``): the
first test starts and configures it, later ones reuse it until the provider or its
plugin version changes. Events the plugin publishes meanwhile are stored with the
provider (and no run).
"""

from __future__ import annotations

from ..context import Context
from ..db.models import PluginVersion, Provider
from ..runtime.errors import PluginRuntimeError
from ..secretbox import SecretKeyError
from .events import EventRecorder
from .runlog import RunLog
from .specs import credential_params, noting_modified, provider_slot, provider_spec


def check_connection(
    context: Context, provider: Provider, version: PluginVersion
) -> tuple[bool, str]:
    """``(ok, message)`` from the plugin's ``validate``; failures are answers, not errors."""
    log = RunLog()
    events = EventRecorder(log, provider_id=provider.id, run_id=None, plugin_key=provider.key)
    try:
        credential = credential_params(context, provider, log)
        with noting_modified(context, version, provider_id=provider.id):
            spec = provider_spec(context.settings, version, provider, credential, log.secrets)
            result = context.supervisor.call(
                provider_slot(provider.id), spec, "validate", {}, on_notification=events.notified
            )
    except (PluginRuntimeError, SecretKeyError) as exc:
        return False, log.mask(str(exc))
    finally:
        if events.pending:
            with context.sessions() as session, session.begin():
                events.store(session)
    if not isinstance(result, dict):
        return False, "plugin answered validate with something that is not an object"
    return bool(result.get("ok")), log.mask(str(result.get("message", "")))
