"""Provider plugins: the seed's "Plugin management API"."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...calls.connection import check_connection
from ...db.models import PluginVersion
from ...db.states import SignatureStatus, Trust, VersionSource, VersionState
from ...jobs.prepare import prepare_version
from ...registry.compatibility import compatibility
from ...registry.errors import PackageTooLarge, PluginInUse, PluginNotFound
from ...registry.install import Outcome, install_archive
from ...registry.lifecycle import providers_of
from ...registry.managed import register_managed, remove_unreferenced
from ...registry.versions import (
    latest_compatible,
    providers_using,
    resolve_for,
    shown_version,
    versions_of,
)
from ...runtime.environments import plugin_folder
from ..deps import AdminUser, ContextDep, CurrentUser, ExecutorDep, SessionDep, Visible
from ..openapi import conflict
from ..pagination import MAX_PAGE, MAX_PAGE_SIZE, Page, page_list
from ..schemas import (
    ConnectionResult,
    PluginDetail,
    PluginPublic,
    PluginTestResult,
    PluginUploaded,
    PluginVersionPublic,
)

router = APIRouter(prefix="/provider-plugins", tags=["provider plugins"])

Force = Annotated[
    bool,
    Query(
        description="Upload: replace a version that failed to prepare (versions are immutable "
        "otherwise); delete: remove a plugin in use"
    ),
]
Wait = Annotated[
    bool,
    Query(
        description="Prepare the version's environment before answering (201); "
        "false answers 202 at once with the version `preparing`"
    ),
]


def _public(
    session: Session, version: PluginVersion, visible: frozenset[int] | None
) -> dict[str, object]:
    manifest = version.manifest
    count = providers_using(session, version.key, visible)
    return {
        "key": version.key,
        "vendor": version.vendor,
        "provider_type": version.provider_type,
        "display_name": manifest.get("display_name") or version.key,
        "description": manifest.get("description") or "",
        "version": version.version,
        "sha256": version.sha256,
        "class_path": version.class_path,
        "source": version.source,
        "repository": version.repository,
        "state": version.state,
        "supported_resource_types": manifest.get("supported_resource_types", []),
        "connection_parameters": manifest.get("connection_parameters", []),
        "provider_count": count,
        "configured_instances": count,
        "name": manifest.get("display_name") or version.key,
        "created_at": version.created_at,
        "signature_status": version.signature_status,
        "trust": version.trust,
    }


def _active(session: Session, key: str) -> PluginVersion:
    version = latest_compatible(session, key)
    if version is None:
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    return version


def _shown(session: Session, key: str) -> PluginVersion:
    version = shown_version(session, key)
    if version is None:
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    return version


@router.get(
    "/",
    description="The installed plugins. Without `page` or `page_size` a plain JSON array, "
    "as the UIS serves it (its clients read it so); with either, a page "
    "(`count`, `next`, `previous`, `results`) like every other list. The items are the same.",
)
def list_plugins(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    page: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description="Page number")] = None,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")
    ] = None,
) -> Page[PluginPublic] | list[PluginPublic]:
    keys = session.scalars(select(PluginVersion.key).distinct().order_by(PluginVersion.key)).all()
    versions = [v for v in (shown_version(session, k) for k in keys) if v is not None]
    results = [PluginPublic.model_validate(_public(session, v, visible)) for v in versions]
    if page is None and page_size is None:
        return results
    return page_list(request, results, page or 1, page_size or 100)


@router.post(
    "/upload/",
    status_code=status.HTTP_201_CREATED,
    responses=conflict(
        "That version is installed with other bytes (versions are immutable), is built in, "
        "or failed to prepare (upload with ?force=true to replace it)"
    ),
    description="Upload a plugin archive. The same bytes of an installed version again "
    "answer 200 with the stored version and change nothing; other bytes under an installed "
    "version answer 409 (release a new version).",
)
def upload_plugin(
    context: ContextDep,
    session: SessionDep,
    executor: ExecutorDep,
    user: AdminUser,
    response: Response,
    plugin: Annotated[UploadFile, File(description="The plugin folder as tar.gz or zip")],
    force: Force = False,
    wait: Wait = True,
) -> PluginUploaded:
    # A plain def on purpose: installing runs uv and the plugin's define step, which
    # would block every other request if it ran on the event loop.
    limit = context.settings.max_upload_bytes
    data = plugin.file.read(limit + 1)
    if len(data) > limit:
        raise PackageTooLarge(f"upload is over the {limit // (1024 * 1024)} MB limit")
    version, outcome = install_archive(session, context.settings, data, force=force, wait=wait)
    if outcome == Outcome.EXISTING:
        response.status_code = status.HTTP_200_OK
    elif not wait:
        executor.submit(prepare_version, version.id)
        response.status_code = status.HTTP_202_ACCEPTED
    return PluginUploaded(
        key=version.key,
        version=version.version,
        state=version.state,
        class_path=version.class_path,
        supported_resource_types=version.manifest.get("supported_resource_types", []),
        sha256=version.sha256,
        replaced=outcome == Outcome.REPLACED,
        outcome=outcome,
        compatibility=compatibility(version),
        signature_status=SignatureStatus(version.signature_status),
        trust=Trust(version.trust),
    )


@router.post("/refresh/")
def refresh_plugins(context: ContextDep, session: SessionDep, user: AdminUser) -> dict[str, object]:
    problems = register_managed(session, context.settings, context.box)
    removed = remove_unreferenced(session, context.settings)
    keys = session.scalars(select(PluginVersion.key).distinct().order_by(PluginVersion.key)).all()
    return {"plugins": list(keys), "problems": problems, "removed_folders": removed}


@router.get("/{key}/")
def get_plugin(key: str, session: SessionDep, user: CurrentUser, visible: Visible) -> PluginDetail:
    version = _shown(session, key)
    versions = [
        PluginVersionPublic(
            version=v.version,
            sha256=v.sha256,
            state=v.state,
            error=v.error,
            source=v.source,
            repository=v.repository,
            created_at=v.created_at,
            is_active=v.id == version.id and v.state == VersionState.READY,
            install_log=v.install_log,
            signature_status=SignatureStatus(v.signature_status),
            trust=Trust(v.trust),
            signed_by=(v.signature or {}).get("key_id"),
        )
        for v in versions_of(session, key)
    ]
    return PluginDetail.model_validate(
        {
            **_public(session, version, visible),
            "manifest": version.manifest,
            "dependencies": _dependencies(version),
            "versions": versions,
            "install_log": version.install_log,
            "error": version.error,
        }
    )


def _dependencies(version: PluginVersion) -> dict[str, list[str]]:
    plugin_dir = plugin_folder(Path(version.path))
    declared = version.manifest.get("dependencies") or {}
    files = {
        "python": declared.get("python") or "requirements.txt",
        "collections": declared.get("collections") or "requirements.yml",
        "system": declared.get("system") or "bindep.txt",
    }
    return {kind: _lines(plugin_dir / name) for kind, name in files.items()}


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


@router.delete(
    "/{key}/",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=conflict("Providers use the plugin (delete with ?force=true)"),
)
def delete_plugin(
    key: str, context: ContextDep, session: SessionDep, user: AdminUser, force: Force = False
) -> Response:
    versions = versions_of(session, key)
    if not versions:
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    using = providers_using(session, key)
    if using and not force:
        raise PluginInUse(f"{using} provider(s) use {key}; delete them first or use ?force=true")
    if any(v.source == VersionSource.MANAGED for v in versions) and not force:
        raise HTTPException(
            409,
            detail=f"{key} is a built-in plugin; it comes back at the next start unless removed from plugins/",
        )
    for version in versions:
        session.delete(version)
    session.commit()
    context.supervisor.discard_plugin(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{key}/test/")
def test_plugin(
    key: str, context: ContextDep, session: SessionDep, user: AdminUser
) -> PluginTestResult:
    _active(session, key)
    results = []
    for provider in providers_of(session, key):
        # Each provider with the version its own policy resolves to.
        resolution = resolve_for(session, provider)
        if resolution.version is None:
            ok, message = False, resolution.reason or ""
        else:
            ok, message = check_connection(context, provider, resolution.version)
        results.append(
            ConnectionResult(provider=provider.id, name=provider.name, ok=ok, message=message)
        )
    return PluginTestResult(key=key, results=results)
