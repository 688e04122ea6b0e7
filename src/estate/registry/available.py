"""Every plugin version known from any source, merged into one listing
(``GET provider-plugins/available/``, ``estate plugin available``).

One row per ``(key, version, source, repository)``: each installed version (``managed``,
``local``, ``remote`` or ``bundle``, with the repository it came from) and each version
an enabled repository offered at its last sync. A version installed from a repository
that still offers it is one row; offered by two repositories, it is two rows (both
``installed``: versions are immutable, so installed is a property of key and version).

Every row of a key carries what ``install`` with no ``source`` and no version would
choose for it (``remote_install.pick``, the resolver ``install`` uses, never a second
one): the repository and version and why, or ``ambiguous`` naming the equally
preferred candidates — never resolved silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import PluginRepository, PluginVersion, RemotePluginVersion
from .errors import AmbiguousSource
from .policy import LATEST, is_prerelease, semver_key
from .remote_install import pick

SOURCE_ORDER = {"managed": 0, "local": 1, "bundle": 2, "remote": 3}


@dataclass(frozen=True)
class Verdict:
    """What ``install`` (no source, no version) would do for a key."""

    source: str | None
    version: str | None
    reason: str
    ambiguous: bool


@dataclass
class Available:
    """One row of the merged listing."""

    key: str
    version: str
    source: str
    repository: str | None
    priority: int | None
    prerelease: bool
    yanked: bool
    sha256: str
    created_at: datetime | None
    installed: bool
    state: str | None  # an installed row's state (ready, preparing, failed); None: offered only
    verdict: Verdict

    @property
    def chosen(self) -> bool:
        """This row is what ``install`` would take."""
        return (self.verdict.source, self.verdict.version) == (self.repository, self.version)


@dataclass(frozen=True)
class AvailableFilter:
    key: str | None = None
    source: str | None = None
    repository: str | None = None
    prerelease: bool = False
    installed: bool | None = None


def available(session: Session, wanted: AvailableFilter) -> list[Available]:
    """The merged listing, filtered: by key, then version (highest first), then source
    (managed, local, bundle, remote by repository priority)."""
    installed = _installed(session, wanted.key)
    repositories = list(
        session.scalars(select(PluginRepository).where(PluginRepository.enabled.is_(True)))
    )
    offered = _offered(session, [r.id for r in repositories], wanted.key)
    rows: dict[tuple[str, str, str, str | None], Available] = {}
    verdicts: dict[str, Verdict] = {}
    keys = {v.key for v in installed} | {o.key for o in offered}
    by_repository: dict[str, dict[int, list[RemotePluginVersion]]] = defaultdict(dict)
    for row in offered:
        by_repository[row.key].setdefault(row.repository_id, []).append(row)
    for key in keys:
        verdicts[key] = verdict(key, repositories, by_repository[key])
    have = {(v.key, v.version) for v in installed}
    for version in installed:
        named = (version.key, version.version, version.source, version.repository)
        rows[named] = _row_of_installed(version, verdicts[version.key], repositories)
    names = {r.id: r for r in repositories}
    for row in offered:
        repository = names[row.repository_id]
        named = (row.key, row.version, "remote", repository.name)
        if named not in rows:
            rows[named] = Available(
                key=row.key, version=row.version, source="remote", repository=repository.name,
                priority=repository.priority, prerelease=row.prerelease, yanked=row.yanked,
                sha256=row.sha256, created_at=row.created_at,
                installed=(row.key, row.version) in have, state=None, verdict=verdicts[row.key],
            )  # fmt: skip
    listed = [r for r in rows.values() if _wanted(r, wanted)]
    return _ordered(listed)


def verdict(
    key: str,
    repositories: list[PluginRepository],
    offered: dict[int, list[RemotePluginVersion]],
) -> Verdict:
    """What ``install`` with neither source nor version would choose for ``key``."""
    try:
        choice = pick(key, LATEST, repositories, offered)
    except AmbiguousSource as exc:
        return Verdict(None, None, str(exc), ambiguous=True)
    if choice is None:
        return Verdict(
            None, None, f"no enabled repository offers a compatible release of {key}", False
        )
    return Verdict(choice.repository.name, choice.offered.version, choice.reason, False)


def _installed(session: Session, key: str | None) -> list[PluginVersion]:
    query = select(PluginVersion)
    if key is not None:
        query = query.where(PluginVersion.key == key)
    return list(session.scalars(query))


def _offered(
    session: Session, repository_ids: list[int], key: str | None
) -> list[RemotePluginVersion]:
    query = select(RemotePluginVersion).where(RemotePluginVersion.repository_id.in_(repository_ids))
    if key is not None:
        query = query.where(RemotePluginVersion.key == key)
    return list(session.scalars(query))


def _row_of_installed(
    version: PluginVersion, verdict_: Verdict, repositories: list[PluginRepository]
) -> Available:
    priority = next((r.priority for r in repositories if r.name == version.repository), None)
    return Available(
        key=version.key, version=version.version, source=version.source,
        repository=version.repository, priority=priority,
        prerelease=is_prerelease(version.version), yanked=version.yanked,
        sha256=version.sha256, created_at=version.created_at, installed=True,
        state=version.state, verdict=verdict_,
    )  # fmt: skip


def _wanted(row: Available, wanted: AvailableFilter) -> bool:
    return (
        (wanted.prerelease or not row.prerelease)
        and (wanted.source is None or row.source == wanted.source)
        and (wanted.repository is None or row.repository == wanted.repository)
        and (wanted.installed is None or row.installed == wanted.installed)
    )


def _ordered(rows: list[Available]) -> list[Available]:
    rows.sort(key=lambda r: (SOURCE_ORDER.get(r.source, 9), r.priority or 0, r.repository or ""))
    rows.sort(key=lambda r: semver_key(r.version), reverse=True)
    rows.sort(key=lambda r: r.key)
    return rows
