"""What every job needs to run a provider's plugin: the process, the provider, the credential."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from inventory_providers.base import ProviderCredential

from ..config import Settings
from ..context import Context
from ..db.models import PluginVersion, Provider
from ..db.states import SignatureStatus
from ..registry.integrity import mark_modified
from ..runtime.environments import PluginEnvironment, environment_at
from ..runtime.errors import PluginModified, PluginUntrusted
from ..runtime.host import LogSink, PluginProcess
from ..runtime.supervisor import ProcessSpec
from .runlog import RunLog


def plugin_process(
    settings: Settings,
    version: PluginVersion,
    on_log: LogSink,
    provider_id: int | None = None,
) -> PluginProcess:
    """A (not yet started) process for ``version``, with the service's timeouts; for a
    provider's job (``provider_id``), with the provider's state folder. It runs at the
    starting thread's niceness (a background job's: runtime/niceness.py)."""
    environment = environment_of(version, settings)
    if provider_id is not None:
        environment = replace(environment, state_dir=state_dir_of(settings, provider_id))
    return PluginProcess(
        environment,
        version.class_path,
        on_log=on_log,
        start_timeout=settings.start_timeout,
        call_timeout=settings.call_timeout,
        log_level=settings.log_level,
    )


def environment_of(version: PluginVersion, settings: Settings) -> PluginEnvironment:
    """Where a stored version's code is, the interpreter that runs it, and its file list,
    which every start of a process checks (``confinement.launch``).

    Raises ``PluginUntrusted`` for a version whose signature is invalid (its key was
    revoked): it is not started at all.
    """
    if version.signature_status == SignatureStatus.INVALID:
        problem = (version.signature or {}).get("problem") or "its signature does not verify"
        raise PluginUntrusted(
            f"{version.key} {version.version} is not started: its signature is invalid ({problem})"
        )
    environment = environment_at(Path(version.path), version.manifest, settings)
    if version.files is None:  # listed at the next start (registry.integrity.list_unlisted)
        return environment
    return replace(environment, files=tuple(sorted(version.files.items())))


@contextmanager
def noting_modified(
    context: Context,
    version: PluginVersion,
    *,
    provider_id: int | None = None,
    run_id: int | None = None,
    action_run_id: int | None = None,
) -> Iterator[None]:
    """Around anything that may start ``version``'s process: a start refused because a
    file changed marks the version ``modified`` and records an event naming the file."""
    try:
        yield
    except PluginModified as exc:
        with context.sessions() as session:
            mark_modified(
                session,
                version.id,
                str(exc),
                provider_id=provider_id,
                run_id=run_id,
                action_run_id=action_run_id,
            )
        raise


def state_dir_of(settings: Settings, provider_id: int) -> Path:
    """The folder the provider's plugin processes keep state in between processes
    (``PluginEnvironment.state_dir``); removed with the provider."""
    return settings.resolved_data_dir / "plugin-state" / str(provider_id)


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


def provider_slot(provider_id: int) -> tuple[str, int]:
    """The supervisor key of a provider's long-lived process."""
    return ("provider", provider_id)


def action_slot(provider_id: int) -> tuple[str, int]:
    """The supervisor key of the long-lived process a provider's actions run in: apart
    from ``provider_slot``'s, so a long action never holds up a connection test or the
    listing of what can be done to another resource (which that process answers)."""
    return ("provider-actions", provider_id)


def provider_slots(provider_id: int) -> tuple[tuple[str, int], ...]:
    """Every supervisor key of a provider's long-lived processes."""
    return (provider_slot(provider_id), action_slot(provider_id))


def version_slot(version_id: int) -> tuple[str, int]:
    """The supervisor key of a plugin version's long-lived (unconfigured) process."""
    return ("version", version_id)


def provider_spec(
    settings: Settings,
    version: PluginVersion,
    provider: Provider,
    credential: dict[str, Any],
    secrets: tuple[str, ...],
) -> ProcessSpec:
    """The long-lived process of ``provider``: its version, configured with its credential.

    The fingerprint changes with the version and with anything ``configure`` is given,
    so an upload or an edit of the provider replaces the process at its next call.
    """
    configure = {"provider": provider_model(provider), "credential": credential}
    label = f"{provider.key} for provider {provider.id}"
    spec = _spec(settings, version, label, configure, secrets)
    state = replace(spec.environment, state_dir=state_dir_of(settings, provider.id))
    return replace(spec, environment=state)


def version_spec(settings: Settings, version: PluginVersion) -> ProcessSpec:
    """The long-lived, unconfigured process of a plugin version (for its API routes)."""
    return _spec(settings, version, f"{version.key} {version.version}", None, ())


def _spec(
    settings: Settings,
    version: PluginVersion,
    label: str,
    configure: dict[str, Any] | None,
    secrets: tuple[str, ...],
) -> ProcessSpec:
    return ProcessSpec(
        label=label,
        plugin_key=version.key,
        environment=environment_of(version, settings),
        class_path=version.class_path,
        fingerprint=_fingerprint(version, configure),
        configure=configure,
        log_level=settings.log_level,
        secrets=secrets,
    )


def _fingerprint(version: PluginVersion, configure: dict[str, Any] | None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{version.id}:{version.sha256}:{version.class_path}".encode())
    # A revoked key or a new file list replaces the process at its next call.
    digest.update(f"{version.signature_status}:{version.files_digest}".encode())
    digest.update(orjson.dumps(configure, option=orjson.OPT_SORT_KEYS, default=str))
    return digest.hexdigest()
