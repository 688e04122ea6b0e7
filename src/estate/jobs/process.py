"""What every job needs to run a provider's plugin: the process, the provider, the credential."""

from __future__ import annotations

from typing import Any

from inventory_providers.base import ProviderCredential

from ..config import Settings
from ..context import Context
from ..db.models import PluginVersion, Provider
from ..registry.versions import environment_for
from ..runtime.host import LogSink, PluginProcess
from .runlog import RunLog


def plugin_process(settings: Settings, version: PluginVersion, on_log: LogSink) -> PluginProcess:
    """A (not yet started) process for ``version``, with the service's timeouts."""
    return PluginProcess(
        environment_for(version),
        version.class_path,
        on_log=on_log,
        start_timeout=settings.start_timeout,
        call_timeout=settings.call_timeout,
        log_level=settings.log_level,
    )


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
