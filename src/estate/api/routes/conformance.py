"""Conformance runs through the service: run the suite against a provider, read reports.

System administrators only: the suite runs every claimed action against the
provider's platform (it powers machines off and on, snapshots, clones and deletes
what it cloned), and its report names that platform's resources. What everybody may
read of it is the catalog's summary (routes/catalog.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import status as http
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import ConformanceRun, PluginVersion, Provider
from ...db.states import RunStatus
from ...jobs.conformance import run_conformance
from ...registry.errors import PluginNotFound
from ...registry.manifest import profile_name
from ...registry.versions import latest_compatible, versions_of
from ..deps import AdminUser, ExecutorDep, IdFilter, SessionDep, get_or_404, one_of
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas_catalog import ConformanceRequest, ConformanceRunDetail, ConformanceRunPublic

router = APIRouter(tags=["conformance"])

ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


def conformance_public(run: ConformanceRun) -> ConformanceRunPublic:
    return ConformanceRunPublic.model_validate(_fields(run))


def _fields(run: ConformanceRun) -> dict[str, object]:
    tested = (run.report or {}).get("profiles") or {}
    return {
        "id": run.id,
        "plugin_key": run.plugin_key,
        "plugin_version": run.plugin_version,
        "plugin_sha256": run.plugin_sha256,
        "provider": run.provider_id,
        "profiles": run.profiles,
        "status": run.status,
        "suite_version": run.suite_version,
        "platform": run.platform,
        "checks_done": run.checks_done,
        "checks_failed": run.checks_failed,
        "error": run.error,
        "requested_by": run.requested_by,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "profile_status": {
            name: str(result.get("status"))
            for name, result in tested.items()
            if isinstance(result, dict) and result.get("status") != "not_tested"
        },
    }


def _profiles(version: PluginVersion, asked: list[str] | None) -> list[str] | None:
    """The profiles asked for, each known and claimed by the plugin; 400 naming one that is not."""
    if asked is None:
        return None
    claimed = [p for p in version.manifest.get("profiles") or [] if isinstance(p, str)]
    seen: set[str] = set()
    for index, name in enumerate(asked):
        where = f"profiles[{index}]"
        try:
            profile_name(name)
        except ValueError as exc:
            raise HTTPException(400, detail=f"{where}: {exc}") from None
        if name not in claimed:
            raise HTTPException(
                400,
                detail=f"{where}: {version.key} {version.version} does not claim profile "
                f"{name!r} (it claims: {', '.join(claimed) or 'none'})",
            )
        if name in seen:
            raise HTTPException(400, detail=f"{where}: {name!r} is named twice")
        seen.add(name)
    return list(asked)


@router.post(
    "/provider-plugins/{key}/conformance/",
    status_code=http.HTTP_202_ACCEPTED,
    responses=conflict("A conformance run is already pending or running for the provider"),
)
def start_conformance_run(
    key: str,
    body: ConformanceRequest,
    session: SessionDep,
    user: AdminUser,
    executor: ExecutorDep,
) -> ConformanceRunPublic:
    """Run the conformance suite of the plugin's active version against ``provider``.

    It acts on that provider's platform: run it against a lab or an emulator. The
    report is stored against the version, and the catalog shows its profiles' status.
    """
    version = latest_compatible(session, key)
    if version is None:
        raise PluginNotFound(f"no ready plugin is installed with key {key!r}")
    provider = get_or_404(session, Provider, body.provider, "provider")
    if provider.key != key:
        raise HTTPException(
            400, detail=f"provider: provider {provider.id} uses {provider.key}, not {key}"
        )
    profiles = _profiles(version, body.profiles)
    busy = session.scalar(
        select(ConformanceRun.id).where(
            ConformanceRun.provider_id == provider.id, ConformanceRun.status.in_(ACTIVE)
        )
    )
    if busy is not None:
        raise HTTPException(
            409, detail=f"conformance run {busy} is already running against provider {provider.id}"
        )
    run = ConformanceRun(
        plugin_key=version.key,
        plugin_version=version.version,
        plugin_sha256=version.sha256,
        version_id=version.id,
        provider_id=provider.id,
        profiles=profiles,
        status=RunStatus.PENDING,
        requested_by=user.username,
    )
    session.add(run)
    session.commit()
    executor.submit(run_conformance, run.id)
    return conformance_public(run)


STATUSES = ("pending", "running", "completed", "failed")
VersionFilter = Annotated[str | None, Query(max_length=100, description="A plugin version")]


@router.get("/provider-plugins/{key}/conformance/")
def list_plugin_conformance_runs(
    key: str,
    request: Request,
    session: SessionDep,
    user: AdminUser,
    version: VersionFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ConformanceRunPublic]:
    """The conformance runs of an installed plugin (every version, or ``version``), newest
    first; those of a removed plugin stay listed by ``conformance-runs/?plugin=``."""
    if not versions_of(session, key):
        raise PluginNotFound(f"no plugin is installed with key {key!r}")
    return _runs(request, session, page, page_size, plugin=key, version=version)


@router.get("/conformance-runs/")
def list_conformance_runs(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    plugin: Annotated[str | None, Query(max_length=200, description="A plugin key")] = None,
    version: VersionFilter = None,
    provider: IdFilter | None = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ConformanceRunPublic]:
    """Every conformance run, newest first."""
    return _runs(
        request,
        session,
        page,
        page_size,
        plugin=plugin,
        version=version,
        provider=provider,
        status=one_of("status", status, STATUSES),
    )


def _runs(
    request: Request,
    session: Session,
    page: int,
    page_size: int,
    *,
    plugin: str | None = None,
    version: str | None = None,
    provider: int | None = None,
    status: str | None = None,
) -> Page[ConformanceRunPublic]:
    query = select(ConformanceRun).order_by(ConformanceRun.id.desc())
    if plugin is not None:
        query = query.where(ConformanceRun.plugin_key == plugin)
    if version is not None:
        query = query.where(ConformanceRun.plugin_version == version)
    if provider is not None:
        query = query.where(ConformanceRun.provider_id == provider)
    if status is not None:
        query = query.where(ConformanceRun.status == status)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    return Page(
        count=count,
        next=next_url,
        previous=previous,
        results=[conformance_public(r) for r in rows],
    )


@router.get("/conformance-runs/{conformance_run_id}/")
def get_conformance_run(
    conformance_run_id: int, session: SessionDep, user: AdminUser
) -> ConformanceRunDetail:
    run = get_or_404(session, ConformanceRun, conformance_run_id, "conformance run")
    return ConformanceRunDetail.model_validate({**_fields(run), "report": run.report})
