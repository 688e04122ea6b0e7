"""Moving providers between versions: pin, unpin, upgrade (with a preview), rollback.

Each function changes providers' ``plugin_version`` policy only; nothing restarts. The
next job resolves the new policy and starts a process of that version, and a provider's
long-lived process is replaced at its next call, its fingerprint naming the version
(calls/specs.py). The caller commits, so each change is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..db.models import PluginVersion, Provider
from ..db.states import VersionState
from ..runtime.environments import plugin_folder
from .compatibility import is_usable, problems_of
from .diff import manifest_diff
from .errors import InvalidPolicy, NothingToRollBack
from .install import requirements_name
from .lifecycle import providers_of
from .manifest import Manifest, check_connection_config
from .policy import PolicyError, parse_policy
from .versions import check_policy, resolve_for, rollback_target, version_named


@dataclass
class Move:
    """One provider's move: from the version it resolves to now, to another."""

    provider: Provider
    before: PluginVersion | None
    after: PluginVersion | None
    policy: str | None
    warnings: list[str] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {
            "provider": self.provider.id,
            "name": self.provider.name,
            "from_version": self.before.version if self.before is not None else None,
            "to_version": self.after.version if self.after is not None else None,
            "plugin_version": self.policy,
            "warnings": self.warnings,
        }


def pin(session: Session, provider: Provider, version: str) -> Move:
    """Pin ``provider`` to exactly ``version`` (400 for a range or a yanked version)."""
    try:
        exact = parse_policy(version).is_exact
    except PolicyError as exc:
        raise InvalidPolicy(f"version: {exc}") from None
    if not exact:
        raise InvalidPolicy(f"version: {version!r} is not an exact version such as 1.4.2")
    return _apply(provider, _planned(session, provider, version))


def unpin(session: Session, provider: Provider) -> Move:
    """Back to the latest compatible version (the move's warnings say when none is)."""
    before = resolve_for(session, provider).version
    provider.plugin_version = None
    after = resolve_for(session, provider)
    warnings = [after.reason] if after.reason else list(after.warnings)
    return Move(provider, before, after.version, None, warnings)


def upgrade(
    session: Session, provider: Provider, to: str, *, dry_run: bool
) -> tuple[Move, dict[str, Any]]:
    """The move to policy ``to`` and the manifest diff it brings; applied unless ``dry_run``."""
    move = _planned(session, provider, to)
    assert move.after is not None  # _planned resolves to a version or raises
    diff = manifest_diff(
        move.before.manifest if move.before is not None else None,
        move.after.manifest,
        _actions(move.before),
        _actions(move.after),
        requirement_lines(move.before),
        requirement_lines(move.after),
    )
    missing = check_connection_config(
        Manifest.model_validate(move.after.manifest).connection_parameters,
        provider.connection_config,
    )
    move.warnings += [f"{p} for {move.after.version}; set it after upgrading" for p in missing]
    if not dry_run:
        _apply(provider, move)
    return move, diff


def rollback(session: Session, provider: Provider) -> Move:
    """Pin ``provider`` to the exact version it used before its resolved version last
    changed; ``NothingToRollBack`` (409) when there is none or it is gone."""
    current = resolve_for(session, provider).version
    target = rollback_target(provider, current)
    if target is None:
        raise NothingToRollBack(
            f"provider {provider.id} ({provider.name}) has no earlier version to return to"
        )
    version = version_named(session, provider.key, target)
    if version is None or version.state != VersionState.READY or not is_usable(version):
        why = "was deleted" if version is None else _unusable(version)
        raise NothingToRollBack(
            f"provider {provider.id} ({provider.name}) used {provider.key} {target} before, "
            f"which {why}"
        )
    move = Move(provider, current, version, target)
    if version.yanked:
        move.warnings.append(f"{provider.key} {target} is yanked ({version.yanked_reason})")
    return _apply(provider, move)


def rollback_key(session: Session, key: str) -> list[Move]:
    """Roll every provider of ``key`` back, all or none (409 naming every refusal)."""
    providers = providers_of(session, key)
    if not providers:
        raise NothingToRollBack(f"no provider uses {key}")
    moves, refused = [], []
    for provider in providers:
        try:
            moves.append(rollback(session, provider))
        except NothingToRollBack as exc:
            refused.append(str(exc))
    if refused:
        session.rollback()
        raise NothingToRollBack("; ".join(refused) + "; nothing was changed")
    return moves


def _planned(session: Session, provider: Provider, policy: str) -> Move:
    target = check_policy(session, provider.key, policy)
    assert target.version is not None  # check_policy raises otherwise
    before = resolve_for(session, provider).version
    return Move(provider, before, target.version, policy, list(target.warnings))


def _apply(provider: Provider, move: Move) -> Move:
    provider.plugin_version = move.policy
    return move


def _unusable(version: PluginVersion) -> str:
    if version.state != VersionState.READY:
        return f"is {version.state}"
    return "is incompatible: " + "; ".join(problems_of(version.manifest))


def _actions(version: PluginVersion | None) -> list[str]:
    definition = version.definition if version is not None else None
    actions = (definition or {}).get("actions") or []
    return [str(a.get("name")) for a in actions if isinstance(a, dict)]


def requirement_lines(version: PluginVersion | None) -> list[str]:
    """The Python requirements a version's requirements file lists."""
    if version is None:
        return []
    manifest = Manifest.model_validate(version.manifest)
    path = plugin_folder(Path(version.path)) / requirements_name(manifest)
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]
