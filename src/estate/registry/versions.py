"""Which stored version runs: a provider's resolution, a key's latest compatible version.

A provider's ``plugin_version`` policy (registry/policy.py) is resolved against the
key's ready versions: an exact pin gets that version (yanked or not: a yanked pin runs,
warned), a range or "latest" (None) the highest matching version that is neither
yanked, nor a pre-release the policy did not name, nor incompatible without an
administrator's override (registry/compatibility.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import PluginVersion, Provider
from ..db.states import VersionState
from .compatibility import is_usable, problems_of
from .errors import InvalidPolicy
from .policy import LATEST, Policy, PolicyError, parse_policy, semver_key

__all__ = [
    "Resolution",
    "check_policy",
    "latest_compatible",
    "note_used",
    "resolve",
    "resolve_for",
    "resolve_for_job",
    "rollback_target",
    "semver_key",
    "shown_version",
    "version_named",
    "versions_of",
]


@dataclass(frozen=True)
class Resolution:
    """What a policy resolves to: the version, or None and the reason; and warnings."""

    version: PluginVersion | None
    reason: str | None = None
    warnings: tuple[str, ...] = ()


def ready_versions(session: Session, key: str) -> list[PluginVersion]:
    """The ready versions of ``key``, highest SemVer first."""
    ready = session.scalars(
        select(PluginVersion).where(
            PluginVersion.key == key, PluginVersion.state == VersionState.READY
        )
    ).all()
    return sorted(ready, key=lambda v: (semver_key(v.version), v.created_at, v.id), reverse=True)


def resolve(session: Session, key: str, policy: str | Policy | None) -> Resolution:
    """The version a job of a provider of ``key`` with ``policy`` runs."""
    try:
        parsed = policy if isinstance(policy, Policy) else parse_policy(policy)
    except PolicyError as exc:
        return Resolution(None, f"plugin_version {policy!r}: {exc}")
    ready = ready_versions(session, key)
    if not ready:
        return Resolution(None, f"no plugin is installed for {key!r}; upload one before collecting")
    if parsed.exact is not None:
        return _exact(session, key, parsed.exact)
    for version in ready:
        if parsed.matches(version.version) and not version.yanked and is_usable(version):
            return Resolution(version)
    wanted = "the latest compatible version" if parsed is LATEST else repr(parsed.text)
    return Resolution(
        None,
        f"no installed version of {key} satisfies {wanted} "
        f"(available: {', '.join(_described(v) for v in ready)})",
    )


def _exact(session: Session, key: str, wanted: str) -> Resolution:
    version = version_named(session, key, wanted)
    if version is None:
        names = ", ".join(v.version for v in versions_of(session, key)) or "none"
        return Resolution(None, f"{key} {wanted} is not installed (installed: {names})")
    if version.state != VersionState.READY:
        return Resolution(None, f"{key} {wanted} is {version.state}, not ready")
    if not is_usable(version):
        return Resolution(
            None, f"{key} {wanted} is incompatible: {'; '.join(problems_of(version.manifest))}"
        )
    if version.yanked:
        return Resolution(
            version,
            warnings=(
                f"{key} {wanted} is yanked ({version.yanked_reason}); pinned, it still runs",
            ),
        )
    return Resolution(version)


def _described(version: PluginVersion) -> str:
    notes = [
        note
        for note, applies in (
            ("yanked", version.yanked),
            ("incompatible", not is_usable(version)),
        )
        if applies
    ]
    return f"{version.version} ({', '.join(notes)})" if notes else version.version


def check_policy(session: Session, key: str, policy: str | None) -> Resolution:
    """The resolution of a policy a provider is being given, or ``InvalidPolicy`` (400)
    naming ``plugin_version`` and what is wrong: unreadable, satisfied by nothing, or a
    new pin to a yanked version."""
    try:
        parsed = parse_policy(policy)
    except PolicyError as exc:
        raise InvalidPolicy(f"plugin_version: {exc}") from None
    resolution = resolve(session, key, parsed)
    if resolution.version is None:
        raise InvalidPolicy(f"plugin_version: {resolution.reason}")
    if resolution.version.yanked:
        raise InvalidPolicy(
            f"plugin_version: {key} {resolution.version.version} is yanked "
            f"({resolution.version.yanked_reason}); a new pin never chooses a yanked version"
        )
    return resolution


def resolve_for(session: Session, provider: Provider) -> Resolution:
    """The version the provider's next job runs, by its ``plugin_version`` policy."""
    return resolve(session, provider.key, provider.plugin_version)


def resolve_for_job(session: Session, provider: Provider) -> Resolution:
    """``resolve_for``, noting the version as the one the provider's jobs now use."""
    resolution = resolve_for(session, provider)
    if resolution.version is not None:
        note_used(provider, resolution.version)
    return resolution


def latest_compatible(session: Session, key: str) -> PluginVersion | None:
    """The key's highest ready, compatible, non-yanked release: what a provider without
    a policy runs, and what the catalog and the plugin listings describe."""
    return resolve(session, key, LATEST).version


def note_used(provider: Provider, version: PluginVersion) -> None:
    """Record that a job of ``provider`` runs ``version`` (what a rollback returns from)."""
    if provider.used_plugin_version != version.version:
        if provider.used_plugin_version is not None:
            provider.previous_plugin_version = provider.used_plugin_version
        provider.used_plugin_version = version.version


def rollback_target(provider: Provider, current: PluginVersion | None) -> str | None:
    """The exact version ``provider`` used before the last change of its resolved
    version: the one its last job ran if that is not the current one, else the one
    before it; None when there is none."""
    now = current.version if current is not None else None
    for candidate in (provider.used_plugin_version, provider.previous_plugin_version):
        if candidate is not None and candidate != now:
            return candidate
    return None


def version_named(session: Session, key: str, version: str) -> PluginVersion | None:
    return session.scalar(
        select(PluginVersion).where(PluginVersion.key == key, PluginVersion.version == version)
    )


def versions_of(session: Session, key: str) -> list[PluginVersion]:
    return list(
        session.scalars(
            select(PluginVersion)
            .where(PluginVersion.key == key)
            .order_by(PluginVersion.created_at.desc(), PluginVersion.id.desc())
        )
    )


def shown_version(session: Session, key: str) -> PluginVersion | None:
    """The version the API describes for ``key``: the latest compatible, else the
    highest ready one, else the newest upload (a plugin only preparing or failed)."""
    active = latest_compatible(session, key)
    if active is not None:
        return active
    ready = ready_versions(session, key)
    if ready:
        return ready[0]
    versions = versions_of(session, key)
    return versions[0] if versions else None


def providers_using(session: Session, key: str, visible: frozenset[int] | None = None) -> int:
    """How many providers use ``key``: of the ``visible`` organizations, or all (None)."""
    vendor, _, provider_type = key.partition(":")
    query = select(func.count()).where(
        Provider.vendor == vendor, Provider.provider_type == provider_type
    )
    if visible is not None:
        query = query.where(Provider.organization_id.in_(visible))
    return int(session.scalar(query) or 0)
