"""Remote plugin repositories: fetching from them, and syncing their index into the cache.

A repository is another Estate (``estate``: its ``provider-plugins/index/``, with the
token as ``Authorization: Token …``) or a static index (``static``: ``<url>/index.json``,
or the URL itself when it ends in ``.json``). Nothing here runs on its own: a sync or an
install is an administrator's request, and with ``ESTATE_OFFLINE=1`` both are refused
before any connection is made.

A sync replaces the repository's cached versions (``RemotePluginVersion``) as a whole,
in one transaction; a failed one changes nothing but the repository's
``last_sync_status``/``last_error`` and raises ``RemoteFailed`` (502) with the same text.
Syncs of one repository never overlap, across every service process on the database: a
sync first claims the repository (one conditional ``UPDATE``: ``last_sync_status``
becomes ``running``, committed), and while it is claimed another is refused at once
(``SyncRunning``, 409, "a sync of X is running") rather than queued behind a remote that
may take the whole timeout to answer. A claim older than :func:`stale_after` (a process
that died mid-sync) is taken over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginRepository, RemotePluginVersion
from ..db.states import RepositoryKind
from ..db.storable import MAX_DEPTH, too_deep
from .errors import InvalidIndex, Offline, RemoteFailed, RepositoryDisabled, SyncRunning
from .index import Index, parse_index
from .keyring import Sealer

API_INDEX = "/api/inventory/v1/provider-plugins/index/"
MAX_INDEX_BYTES = 16 * 1024 * 1024
OK, ERROR, RUNNING = "ok", "error", "running"
STALE_FLOOR_SECONDS = 300


def check_online(settings: Settings, what: str) -> None:
    """Refuse ``what`` (a sync, an install) under ``ESTATE_OFFLINE=1``."""
    if settings.offline:
        raise Offline(
            f"{what} is refused: the service is offline (ESTATE_OFFLINE=1) and contacts no "
            "repository; install from a bundle instead (estate plugin bundle import)"
        )


def index_url(repository: PluginRepository) -> str:
    """Where ``repository``'s index is."""
    url = repository.url
    if repository.kind == RepositoryKind.ESTATE:
        return url.rstrip("/") + API_INDEX
    return url if urlsplit(url).path.endswith(".json") else url.rstrip("/") + "/index.json"


def token_of(box: Sealer, repository: PluginRepository) -> str | None:
    token = box.open(repository.token).get("token")
    return token if isinstance(token, str) and token else None


def fetch(url: str, token: str | None, settings: Settings, limit: int) -> bytes:
    """GET ``url`` (at most ``limit`` bytes); ``RemoteFailed`` says what went wrong, never
    with the token."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    timeout = settings.remote_timeout
    try:
        # Redirects are followed; httpx drops Authorization on one to another origin.
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers=headers) as answer,
        ):
            if answer.status_code != 200:
                raise RemoteFailed(f"HTTP {answer.status_code} from {url}{_detail(answer)}")
            data = bytearray()
            for chunk in answer.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise RemoteFailed(f"{url}: the answer is over the {limit}-byte limit")
            return bytes(data)
    except httpx.ConnectError as exc:
        if "refused" in str(exc).lower():
            raise RemoteFailed(f"connection refused to {url}") from None
        raise RemoteFailed(f"cannot connect to {url}: {exc}") from None
    except httpx.TimeoutException:
        raise RemoteFailed(f"no answer from {url} within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise RemoteFailed(f"{url}: {exc.__class__.__name__}: {exc}") from None


def _detail(answer: httpx.Response) -> str:
    """An Estate's error ``detail``, when the answer carries one (read at most 4 KiB)."""
    if "json" not in answer.headers.get("content-type", ""):
        return ""
    try:
        body = json.loads(answer.read()[:4096])
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return f": {detail}" if isinstance(detail, str) else ""


def read_index(repository: PluginRepository, box: Sealer, settings: Settings) -> Index:
    """Fetch and check ``repository``'s index."""
    url = index_url(repository)
    data = fetch(url, token_of(box, repository), settings, MAX_INDEX_BYTES)
    if too_deep(data):
        raise RemoteFailed(f"{url}: nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise RemoteFailed(f"{url}: not JSON ({exc})") from None
    try:
        return parse_index(document, where=url)
    except InvalidIndex as exc:
        raise RemoteFailed(str(exc)) from None


def sync(session: Session, settings: Settings, box: Sealer, repository: PluginRepository) -> int:
    """Replace ``repository``'s cached versions with its index now; returns how many it
    offers. Commits, also when it fails (recording why) before raising ``RemoteFailed``."""
    if not repository.enabled:
        raise RepositoryDisabled(
            f"repository {repository.name} is disabled; enable it (PATCH enabled: true) to sync"
        )
    check_online(settings, f"syncing repository {repository.name}")
    _claim(session, settings, repository)
    try:
        rows = _rows(repository, read_index(repository, box, settings))
        session.execute(
            delete(RemotePluginVersion).where(RemotePluginVersion.repository_id == repository.id)
        )
        session.add_all(rows)
        _record(session, repository, OK, None)
    except RemoteFailed as exc:
        _record(session, repository, ERROR, str(exc))
        raise
    except BaseException as exc:  # the claim must not outlive this request, whatever ended it
        _record(session, repository, ERROR, f"the sync was interrupted ({type(exc).__name__})")
        raise
    return len(rows)


def stale_after(settings: Settings) -> timedelta:
    """How old a ``running`` claim is when it is taken over: a sync lasts at most a few
    remote timeouts, so an older claim is one whose process died."""
    return timedelta(seconds=max(STALE_FLOOR_SECONDS, 4 * settings.remote_timeout))


def _claim(session: Session, settings: Settings, repository: PluginRepository) -> None:
    """Mark ``repository``'s sync running (committed), or refuse: one is running."""
    now = datetime.now(UTC)
    claimed = session.execute(
        update(PluginRepository)
        .where(
            PluginRepository.id == repository.id,
            or_(
                PluginRepository.last_sync_status.is_(None),
                PluginRepository.last_sync_status != RUNNING,
                PluginRepository.last_sync_at.is_(None),
                PluginRepository.last_sync_at < now - stale_after(settings),
            ),
        )
        .values(last_sync_status=RUNNING, last_sync_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if getattr(claimed, "rowcount", 0) != 1:
        raise SyncRunning(f"a sync of {repository.name} is running; try again when it has finished")
    session.refresh(repository)  # the row as claimed, so that its end is written over it


def _rows(repository: PluginRepository, index: Index) -> list[RemotePluginVersion]:
    """The cache rows of ``index``; archive URLs resolved against the index's URL and
    refused unless http(s)."""
    url = index_url(repository)
    rows = []
    for p, plugin in enumerate(index.plugins):
        for v, version in enumerate(plugin.versions):
            columns = _version_columns(version.model_dump(), url)
            if urlsplit(str(columns["archive_url"])).scheme not in ("http", "https"):
                raise RemoteFailed(f"{url}: plugins[{p}].versions[{v}].archive: not an http(s) URL")
            rows.append(
                RemotePluginVersion(
                    repository_id=repository.id,
                    key=plugin.key,
                    vendor=plugin.vendor,
                    provider_type=plugin.provider_type,
                    name=plugin.name,
                    description=plugin.description,
                    **columns,
                )
            )
    return rows


def _version_columns(version: Mapping[str, object], url: str) -> dict[str, object]:
    columns = {
        name: version[name]
        for name in (
            "version", "sha256", "size", "created_at", "prerelease", "yanked", "yanked_reason",
            "requires_estate", "protocol_versions", "files_digest", "signature",
        )
    }  # fmt: skip
    columns["archive_url"] = urljoin(url, str(version["archive"]))
    return columns


def _record(session: Session, repository: PluginRepository, status: str, error: str | None) -> None:
    repository_id = repository.id
    if status == ERROR:
        session.rollback()  # nothing half-replaced
        repository = session.get(PluginRepository, repository_id) or repository
    repository.last_sync_at = datetime.now(UTC)
    repository.last_sync_status = status
    repository.last_error = error
    session.commit()
