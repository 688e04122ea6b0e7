"""Installing from remote repositories: which repository and version, then the archive.

**Which.** The request names a key, a version policy (an exact version, a range as in
``policy.py``, or null: the latest compatible release) and optionally a ``source`` (a
repository's name). Each enabled repository's cached versions (its last sync) are
matched: yanked versions only by an exact version, pre-releases only as the policy names
them, and a range or null only picks versions this service is compatible with. When
more than one repository offers a match, the one with the lowest ``priority`` number is
chosen and the answer says so (``chosen_source``, ``reason``); equal priorities are never
resolved silently: ``AmbiguousSource`` (409) names the candidates.

**Then.** The archive is downloaded, its sha256 checked against the index (a mismatch
stores nothing: ``RemoteFailed``, 502, naming both digests), and it is installed through
``install.install_archive`` as a ``remote`` version of that repository, so the unsigned
policy for remote sources (refuse) and the local keyring apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginRepository, PluginVersion, RemotePluginVersion
from ..db.states import VersionSource
from .archive import sha256_of
from .compatibility import problems_of
from .errors import AmbiguousSource, InvalidPolicy, NotOffered, RemoteFailed
from .install import Outcome, install_archive
from .keyring import Sealer
from .policy import LATEST, Policy, PolicyError, parse_policy, semver_key
from .remotes import check_online, fetch, token_of


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass(frozen=True)
class Choice:
    """The repository and cached version an install takes, and why that repository."""

    repository: PluginRepository
    offered: RemotePluginVersion
    reason: str


def choose(session: Session, key: str, policy_text: str | None, source: str | None) -> Choice:
    """The repository and version to install ``key`` from (see the module)."""
    try:
        policy = parse_policy(policy_text)
    except PolicyError as exc:
        raise InvalidPolicy(f"version {policy_text!r}: {exc}") from None
    repositories = _repositories(session, source)
    offered = {r.id: _offered(session, r.id, key) for r in repositories}
    choice = pick(key, policy, repositories, offered, named=source is not None)
    if choice is None:
        raise NotOffered(_nothing(session, key, policy, repositories, source))
    return choice


def pick(
    key: str,
    policy: Policy,
    repositories: list[PluginRepository],
    offered: Mapping[int, list[RemotePluginVersion]],
    *,
    named: bool = False,
) -> Choice | None:
    """The choice among ``repositories`` (``offered``: each one's cached versions of
    ``key``, in any order): None when none offers a match, ``AmbiguousSource`` when
    equally preferred ones do. The one resolver: ``install`` and the merged listing
    (``available.py``) both ask it."""
    candidates = []
    for repository in repositories:
        best = _best(offered.get(repository.id, []), policy)
        if best is not None:
            candidates.append((repository, best))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0].priority, c[0].name))
    chosen, best = candidates[0]
    if named:
        return Choice(chosen, best, f"named as the source; it offers {key} {best.version}")
    if len(candidates) == 1:
        return Choice(chosen, best, f"the only enabled repository offering {key} as asked")
    tied = [c for c in candidates if c[0].priority == chosen.priority]
    if len(tied) > 1:
        names = ", ".join(f"{r.name} ({v.version})" for r, v in tied)
        raise AmbiguousSource(
            f"{key} is offered by repositories of the same priority {chosen.priority}: "
            f"{names}; name one as source"
        )
    others = ", ".join(f"{r.name} (priority {r.priority}, {v.version})" for r, v in candidates[1:])
    return Choice(
        chosen, best, f"lowest priority number ({chosen.priority}) among those offering {key}; "
        f"also offered by {others}",
    )  # fmt: skip


def _repositories(session: Session, source: str | None) -> list[PluginRepository]:
    query = select(PluginRepository).where(PluginRepository.enabled.is_(True))
    if source is not None:
        found = session.scalar(select(PluginRepository).where(PluginRepository.name == source))
        if found is None:
            names = ", ".join(session.scalars(select(PluginRepository.name))) or "none"
            raise NotOffered(f"source: no repository named {source!r} (registered: {names})")
        if not found.enabled:
            raise NotOffered(f"source: repository {source!r} is disabled")
        return [found]
    return list(session.scalars(query))


def _offered(session: Session, repository_id: int, key: str) -> list[RemotePluginVersion]:
    rows = session.scalars(
        select(RemotePluginVersion).where(
            RemotePluginVersion.repository_id == repository_id, RemotePluginVersion.key == key
        )
    ).all()
    return list(rows)


def _best(offered: list[RemotePluginVersion], policy: Policy) -> RemotePluginVersion | None:
    """The highest version of ``offered`` the policy takes."""
    if policy.exact is not None:
        return next((r for r in offered if r.version == policy.exact), None)
    for row in _newest_first(offered):
        if policy.matches(row.version) and not row.yanked and not _problems(row):
            return row
    return None


def _newest_first(rows: list[RemotePluginVersion]) -> list[RemotePluginVersion]:
    return sorted(rows, key=lambda r: semver_key(r.version), reverse=True)


def _problems(row: RemotePluginVersion) -> list[str]:
    return problems_of(
        {"requires_estate": row.requires_estate, "protocol_versions": row.protocol_versions}
    )


def _nothing(
    session: Session,
    key: str,
    policy: Policy,
    repositories: list[PluginRepository],
    source: str | None,
) -> str:
    wanted = "the latest compatible release" if policy is LATEST else repr(policy.text)
    if not repositories:
        return f"no enabled repository is registered; register one (repositories/) to install {key}"
    offered = [
        f"{r.name}: "
        f"{', '.join(v.version + (' (yanked)' if v.yanked else '') for v in _newest_first(rows))}"
        for r in repositories
        if (rows := _offered(session, r.id, key))
    ]
    never = [r.name for r in repositories if r.last_sync_status is None]
    hint = f"; never synced: {', '.join(never)} (sync it first)" if never else ""
    where = f"repository {source} offers no" if source else "no enabled repository offers"
    return f"{where} {key} matching {wanted} ({'; '.join(offered) or 'offered nowhere'}){hint}"


def install_remote(
    session: Session,
    settings: Settings,
    box: Sealer,
    key: str,
    policy_text: str | None,
    source: str | None,
) -> tuple[PluginVersion, Outcome, Choice]:
    """Install ``key`` from the repository :func:`choose` picks; commits."""
    check_online(settings, f"installing {key} from a repository")
    choice = choose(session, key, policy_text, source)
    offered, repository = choice.offered, choice.repository
    # The token goes to the repository's own origin only, never to a host its index names.
    same = _origin(offered.archive_url) == _origin(repository.url)
    token = token_of(box, repository) if same else None
    data = fetch(offered.archive_url, token, settings, settings.max_upload_bytes)
    got = sha256_of(data)
    if got != offered.sha256:
        raise RemoteFailed(
            f"{offered.archive_url}: the archive's sha256 is {got}, but repository "
            f"{repository.name}'s index says {offered.sha256}; nothing installed"
        )
    version, outcome = install_archive(
        session, settings, data,
        source=VersionSource.REMOTE, repository=repository.name,
        signature=offered.signature, expected=(key, offered.version),
    )  # fmt: skip
    return version, outcome, choice
