"""Test a provider's connection through its plugin, synchronously (for the API's test/)."""

from __future__ import annotations

from typing import Any

from inventory_providers.base import ProviderCredential

from ..context import Context
from ..db.models import PluginVersion, Provider
from ..registry.versions import environment_for
from ..runtime.errors import PluginRuntimeError
from ..runtime.host import PluginProcess
from ..secretbox import SecretKeyError
from .runlog import RunLog


def provider_model(provider: Provider) -> dict[str, Any]:
    """What the plugin sees as ``provider_model``: the record without secrets."""
    return {
        "id": provider.id,
        "name": provider.name,
        "infrastructure": provider.infrastructure,
        "vendor": provider.vendor,
        "provider_type": provider.provider_type,
        "endpoint": provider.endpoint,
        "organization": provider.organization_id,
        "connection_config": dict(provider.connection_config),
    }


def credential_params(context: Context, provider: Provider, log: RunLog) -> dict[str, Any]:
    """The ``configure`` call's credential, secrets decrypted and registered for masking."""
    secrets = context.box.open(provider.secrets)
    log.redact(secrets.values())
    config = {**provider.connection_config, **secrets}
    credential = ProviderCredential.from_config(provider.endpoint, config)
    return {
        "username": credential.username,
        "password": credential.password,
        "hostname": credential.hostname,
        "port": credential.port,
        "extra": credential.extra,
    }


def check_connection(
    context: Context, provider: Provider, version: PluginVersion
) -> tuple[bool, str]:
    """``(ok, message)`` from the plugin's ``validate``; failures are answers, not errors."""
    settings = context.settings
    log = RunLog()
    try:
        credential = credential_params(context, provider, log)
        with PluginProcess(
            environment_for(version),
            version.class_path,
            on_log=log.add,
            start_timeout=settings.start_timeout,
            call_timeout=settings.call_timeout,
        ) as process:
            process.call(
                "configure", {"provider": provider_model(provider), "credential": credential}
            )
            result = process.call("validate", {})
    except (PluginRuntimeError, SecretKeyError) as exc:
        return False, log.mask(str(exc))
    if not isinstance(result, dict):
        return False, "plugin answered validate with something that is not an object"
    return bool(result.get("ok")), log.mask(str(result.get("message", "")))
