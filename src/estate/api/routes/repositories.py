"""Remote plugin repositories: register, list, update, remove, sync, and what each offers
(docs/repository.md, "Remote repositories"). System administrators only; every write is
in the audit log. A token is sealed at rest and never answered, logged or put in an error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ...db.models import PluginRepository, PluginVersion, RemotePluginVersion
from ...registry import remotes
from ...registry.errors import RepositoryExists
from ...registry.policy import semver_key
from ...secretbox import SecretBox
from ..deps import AdminUser, ContextDep, SessionDep, get_or_404
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas_repositories import (
    OfferedVersion,
    RepositoryCreate,
    RepositoryPublic,
    RepositoryUpdate,
    SyncPublic,
)

router = APIRouter(prefix="/repositories", tags=["plugin repositories"])

Prerelease = Annotated[bool, Query(description="Also list pre-releases (hidden unless asked for)")]


def _public(session: Session, repository: PluginRepository) -> RepositoryPublic:
    offered = session.scalar(
        select(func.count())
        .select_from(RemotePluginVersion)
        .where(RemotePluginVersion.repository_id == repository.id)
    )
    return RepositoryPublic(
        id=repository.id, name=repository.name, kind=repository.kind, url=repository.url,
        token_set=repository.token is not None, priority=repository.priority,
        enabled=repository.enabled, last_sync_at=repository.last_sync_at,
        last_sync_status=repository.last_sync_status, last_error=repository.last_error,
        offered=offered or 0, created_at=repository.created_at,
        modified_at=repository.modified_at,
    )  # fmt: skip


def _get(session: Session, repository_id: int) -> PluginRepository:
    return get_or_404(session, PluginRepository, repository_id, "repository")


def _unique_name(session: Session, name: str, repository_id: int | None = None) -> None:
    other = session.scalar(select(PluginRepository).where(PluginRepository.name == name))
    if other is not None and other.id != repository_id:
        raise RepositoryExists(
            f"name: a repository named {name!r} is registered already (id {other.id})"
        )


def _seal(box: SecretBox, token: str | None) -> str | None:
    return box.seal({"token": token}) if token else None


@router.get("/")
def list_repositories(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[RepositoryPublic]:
    rows = session.scalars(
        select(PluginRepository).order_by(PluginRepository.priority, PluginRepository.name)
    ).all()
    return page_list(request, [_public(session, r) for r in rows], page, page_size)


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    responses=conflict("A repository with that name is registered already"),
    description="Register a remote repository; nothing is fetched until it is synced.",
)
def create_repository(
    body: RepositoryCreate, context: ContextDep, session: SessionDep, user: AdminUser
) -> RepositoryPublic:
    _unique_name(session, body.name)
    repository = PluginRepository(
        **body.model_dump(exclude={"token"}), token=_seal(context.box, body.token)
    )
    session.add(repository)
    session.commit()
    return _public(session, repository)


@router.get("/{repository_id}/")
def get_repository(repository_id: int, session: SessionDep, user: AdminUser) -> RepositoryPublic:
    return _public(session, _get(session, repository_id))


def _update(
    session: Session, box: SecretBox, repository: PluginRepository, changes: dict[str, object]
) -> RepositoryPublic:
    if "name" in changes:
        _unique_name(session, str(changes["name"]), repository.id)
    if "token" in changes:
        token = changes.pop("token")
        repository.token = _seal(box, token if isinstance(token, str) else None)
    for field, value in changes.items():
        setattr(repository, field, value)
    session.commit()
    return _public(session, repository)


@router.patch("/{repository_id}/", responses=conflict("That name is taken"))
def patch_repository(
    repository_id: int,
    body: RepositoryUpdate,
    context: ContextDep,
    session: SessionDep,
    user: AdminUser,
) -> RepositoryPublic:
    repository = _get(session, repository_id)
    return _update(session, context.box, repository, body.model_dump(exclude_unset=True))


@router.put(
    "/{repository_id}/",
    responses=conflict("That name is taken"),
    description="Replace every field; the stored token is kept unless `token` is given.",
)
def put_repository(
    repository_id: int,
    body: RepositoryCreate,
    context: ContextDep,
    session: SessionDep,
    user: AdminUser,
) -> RepositoryPublic:
    repository = _get(session, repository_id)
    changes = body.model_dump(exclude=set() if body.token else {"token"})
    return _update(session, context.box, repository, changes)


@router.delete(
    "/{repository_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    description="Remove the repository and what it offered; versions installed from it stay "
    "installed (their `repository` keeps its name).",
)
def delete_repository(repository_id: int, session: SessionDep, user: AdminUser) -> Response:
    repository = _get(session, repository_id)
    session.execute(
        delete(RemotePluginVersion).where(RemotePluginVersion.repository_id == repository.id)
    )
    session.delete(repository)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{repository_id}/sync/",
    responses={
        **conflict("The repository is disabled, or a sync of it is running (syncs never overlap)"),
        502: {"description": "The repository could not be reached or sent a bad index"},
        503: {"description": "The service is offline (ESTATE_OFFLINE=1)"},
    },
    description="Fetch the repository's index now and replace what it offers; a failure is "
    "recorded on the repository (`last_sync_status`, `last_error`) and changes nothing else.",
)
def sync_repository(
    repository_id: int, context: ContextDep, session: SessionDep, user: AdminUser
) -> SyncPublic:
    repository = _get(session, repository_id)
    offered = remotes.sync(session, context.settings, context.box, repository)
    return SyncPublic(repository=_public(session, repository), offered=offered)


@router.get(
    "/{repository_id}/plugins/",
    description="What the repository offered at its last successful sync, by key then "
    "version (highest first), with whether each is installed here.",
)
def offered_plugins(
    request: Request,
    repository_id: int,
    session: SessionDep,
    user: AdminUser,
    prerelease: Prerelease = False,
    key: Annotated[str | None, Query(max_length=200, description="Only this key")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[OfferedVersion]:
    repository = _get(session, repository_id)
    query = select(RemotePluginVersion).where(RemotePluginVersion.repository_id == repository.id)
    if key is not None:
        query = query.where(RemotePluginVersion.key == key)
    if not prerelease:
        query = query.where(RemotePluginVersion.prerelease.is_(False))
    newest_first = sorted(session.scalars(query), key=lambda r: semver_key(r.version), reverse=True)
    rows = sorted(newest_first, key=lambda r: r.key)  # stable: by key, then newest first
    installed = _installed(session, {r.key for r in rows})
    items = [_offered(row, repository.name, installed.get((row.key, row.version))) for row in rows]
    return page_list(request, items, page, page_size)


def _installed(session: Session, keys: set[str]) -> dict[tuple[str, str], str]:
    rows = session.execute(
        select(PluginVersion.key, PluginVersion.version, PluginVersion.sha256).where(
            PluginVersion.key.in_(keys)
        )
    ).all()
    return {(k, v): sha for k, v, sha in rows}


def _offered(
    row: RemotePluginVersion, repository: str, installed_sha: str | None
) -> OfferedVersion:
    return OfferedVersion(
        key=row.key, vendor=row.vendor, provider_type=row.provider_type, name=row.name,
        description=row.description, version=row.version, sha256=row.sha256, size=row.size,
        created_at=row.created_at, prerelease=row.prerelease, yanked=row.yanked,
        yanked_reason=row.yanked_reason, requires_estate=row.requires_estate,
        protocol_versions=row.protocol_versions,
        signed_by=(row.signature or {}).get("key_id"),
        installed=installed_sha is not None,
        installed_sha256_matches=None if installed_sha is None else installed_sha == row.sha256,
        repository=repository,
    )  # fmt: skip
