"""Test a provider's connection through its plugin, synchronously (for the API's test/)."""

from __future__ import annotations

from ..context import Context
from ..db.models import PluginVersion, Provider
from ..runtime.errors import PluginRuntimeError
from ..secretbox import SecretKeyError
from .process import credential_params, plugin_process, provider_model
from .runlog import RunLog


def check_connection(
    context: Context, provider: Provider, version: PluginVersion
) -> tuple[bool, str]:
    """``(ok, message)`` from the plugin's ``validate``; failures are answers, not errors."""
    settings = context.settings
    log = RunLog()
    try:
        credential = credential_params(context, provider, log)
        with plugin_process(settings, version, log.add) as process:
            process.call(
                "configure", {"provider": provider_model(provider), "credential": credential}
            )
            result = process.call("validate", {})
    except (PluginRuntimeError, SecretKeyError) as exc:
        return False, log.mask(str(exc))
    if not isinstance(result, dict):
        return False, "plugin answered validate with something that is not an object"
    return bool(result.get("ok")), log.mask(str(result.get("message", "")))
