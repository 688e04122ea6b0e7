"""Providers: connections to platforms, with write-only secrets; collect and test."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response, status
from sqlalchemy import or_, select, update
from sqlalchemy.orm import QueryableAttribute, Session

from ... import taxonomy
from ...calls.connection import check_connection
from ...calls.specs import provider_slots, state_dir_of
from ...context import Context
from ...db.models import CollectionRun, PluginVersion, Provider, User
from ...db.states import Role
from ...inventory.providers import ProviderStat, ProviderStats, provider_stats
from ...inventory.search import like_pattern, lock_out_indexers
from ...jobs.collect import ACTIVE, run_collection
from ...jobs.forward import Submitter
from ...registry.manifest import (
    Manifest,
    check_connection_config,
    check_connection_keys,
    secret_names,
)
from ...registry.versions import Resolution, check_policy, resolve, resolve_for
from ...secretbox import ENCRYPTED
from ..deps import (
    ContextDep,
    CurrentUser,
    ExecutorDep,
    IdFilter,
    SessionDep,
    Visible,
    get_in_scope_or_404,
    require_role,
)
from ..openapi import conflict
from ..ordering import Ordering, order_clauses
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import (
    CollectionRunPublic,
    ConnectionResult,
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
)
from ..schemas_collect import CollectRequest
from .runs import run_public

router = APIRouter(prefix="/providers", tags=["providers"])


_SORTABLE: dict[str, QueryableAttribute[Any]] = {
    "id": Provider.id,
    "name": Provider.name,
    "vendor": Provider.vendor,
    "provider_type": Provider.provider_type,
    "created": Provider.created_at,
    "created_at": Provider.created_at,
    "modified": Provider.updated_at,
    "updated_at": Provider.updated_at,
    "last_refresh_at": Provider.last_refresh_at,
}


def provider_public(
    provider: Provider, resolution: Resolution, stats: ProviderStats
) -> ProviderPublic:
    count, status, schedules = stats.get(provider.id, ProviderStat(0, None, 0))
    version = resolution.version
    return ProviderPublic(
        id=provider.id,
        name=provider.name,
        infrastructure=provider.infrastructure,
        vendor=provider.vendor,
        provider_type=provider.provider_type,
        endpoint=provider.endpoint,
        organization=provider.organization_id,
        connection_config=dict(provider.connection_config),
        enabled=provider.enabled,
        plugin_installed=version is not None,
        plugin_version=provider.plugin_version,
        resolved_plugin_version=version.version if version is not None else None,
        warnings=_warnings(resolution),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
        last_refresh_at=provider.last_refresh_at,
        created=provider.created_at,
        modified=provider.updated_at,
        credential_ref=None,
        resource_count=count,
        last_collection_status=status,
        schedule_count=schedules,
    )


def _public(session: Session, provider: Provider) -> ProviderPublic:
    resolution = resolve_for(session, provider)
    return provider_public(provider, resolution, provider_stats(session, [provider.id]))


def _warnings(resolution: Resolution) -> list[str]:
    return (
        [resolution.reason, *resolution.warnings] if resolution.reason else [*resolution.warnings]
    )


def _manifest(version: PluginVersion | None) -> Manifest | None:
    return Manifest.model_validate(version.manifest) if version is not None else None


def _split_config(
    context: Context,
    config: dict[str, Any],
    manifest: Manifest | None,
    stored_secrets: str | None,
) -> tuple[dict[str, Any], str | None]:
    """Public config and the sealed secrets; ``$encrypted$`` keeps a stored value.

    The public config keeps an ``$encrypted$`` marker where each secret is, so a
    provider is shown without opening its secrets.
    """
    names = secret_names(manifest)
    previous = context.box.open(stored_secrets)
    public: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for key, value in config.items():
        if key in names or key in previous:
            if value == ENCRYPTED:
                if key in previous:
                    secrets[key] = previous[key]
            elif key in names:
                secrets[key] = value
            else:
                public[key] = value
        elif value != ENCRYPTED:
            public[key] = value
    public.update(dict.fromkeys(secrets, ENCRYPTED))
    if manifest is not None:
        merged = {**public, **secrets}
        problems = check_connection_keys(manifest, merged)
        problems += check_connection_config(manifest.connection_parameters, merged)
        if problems:
            raise HTTPException(400, detail="; ".join(problems))
    return public, context.box.seal(secrets)


def _check_name(
    session: Session, organization_id: int, name: str, exclude: int | None = None
) -> None:
    query = select(Provider.id).where(
        Provider.organization_id == organization_id, Provider.name == name
    )
    found = session.scalar(query)
    if found is not None and found != exclude:
        raise HTTPException(
            400, detail=f"name: a provider named {name!r} exists in organization {organization_id}"
        )


def _check_policy_role(user: User, before: str | None, after: str | None) -> None:
    """403 unless a system administrator changes a provider's version policy: which
    installed code runs is theirs to choose, as installing it is."""
    if before != after and not user.is_admin:
        raise HTTPException(
            403,
            detail="plugin_version: only system administrators choose a provider's plugin version",
        )


def _get(session: Session, user: User, provider_id: int, need: Role = Role.VIEWER) -> Provider:
    return get_in_scope_or_404(session, user, Provider, provider_id, "provider", need=need)


def _check_secrets_resent(
    context: Context, provider: Provider, config: dict[str, Any] | None
) -> None:
    """400 unless ``config`` sends again every secret ``provider`` holds.

    A provider changing plugin keeps none of its secrets: they would be handed to
    another plugin than the one they were entered for.
    """
    stored = sorted(context.box.open(provider.secrets))
    missing = [k for k in stored if config is None or config.get(k) in (None, ENCRYPTED)]
    if missing:
        raise HTTPException(
            400,
            detail="connection_config: changing the plugin drops the stored secrets; "
            f"send them again ({', '.join(missing)})",
        )


@router.get("/")
def list_providers(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    vendor: str | None = None,
    provider_type: str | None = None,
    organization: IdFilter | None = None,
    enabled: bool | None = None,
    infrastructure: str | None = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the name, vendor or provider_type")
    ] = None,
    ordering: Ordering = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[ProviderPublic]:
    order = order_clauses(ordering, _SORTABLE, Provider.id)
    query = select(Provider).order_by(*(order or [Provider.id.asc()]))
    if visible is not None:
        query = query.where(Provider.organization_id.in_(visible))
    if vendor is not None:
        query = query.where(Provider.vendor == vendor)
    if provider_type is not None:
        query = query.where(Provider.provider_type == provider_type)
    if organization is not None:
        query = query.where(Provider.organization_id == organization)
    if enabled is not None:
        query = query.where(Provider.enabled == enabled)
    if infrastructure is not None:
        query = query.where(Provider.infrastructure == infrastructure)
    if search:
        pattern = like_pattern(search)
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (Provider.name, Provider.vendor, Provider.provider_type)
                )
            )
        )
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    wanted = {(p.key, p.plugin_version) for p in rows}
    resolved = {(key, policy): resolve(session, key, policy) for key, policy in wanted}
    stats = provider_stats(session, [p.id for p in rows])
    results = [provider_public(p, resolved[p.key, p.plugin_version], stats) for p in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/", status_code=status.HTTP_201_CREATED)
def create_provider(
    body: ProviderCreate, context: ContextDep, session: SessionDep, user: CurrentUser
) -> ProviderPublic:
    require_role(session, user, body.organization, Role.ADMIN)
    _check_policy_role(user, None, body.plugin_version)
    _check_name(session, body.organization, body.name)
    key = f"{body.vendor}:{body.provider_type}"
    if body.plugin_version is not None:
        version = check_policy(session, key, body.plugin_version).version
    else:
        version = resolve(session, key, None).version
    public, sealed = _split_config(context, body.connection_config, _manifest(version), None)
    provider = Provider(
        name=body.name,
        infrastructure=body.infrastructure,
        vendor=body.vendor,
        provider_type=body.provider_type,
        endpoint=body.endpoint,
        organization_id=body.organization,
        connection_config=public,
        secrets=sealed,
        enabled=body.enabled,
        plugin_version=body.plugin_version,
    )
    session.add(provider)
    session.commit()
    return _public(session, provider)


@router.get("/{provider_id}/")
def get_provider(provider_id: int, session: SessionDep, user: CurrentUser) -> ProviderPublic:
    provider = _get(session, user, provider_id)
    return _public(session, provider)


def _update(
    provider_id: int, body: ProviderUpdate, context: Context, session: Session, user: User
) -> ProviderPublic:
    provider = _get(session, user, provider_id, Role.ADMIN)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "vendor", "provider_type", "organization"):
        if field in changes and changes[field] is None:
            raise HTTPException(400, detail=f"{field}: may not be null")
    organization = changes.get("organization", provider.organization_id)
    if organization != provider.organization_id:
        require_role(session, user, organization, Role.ADMIN)
    _check_name(session, organization, changes.get("name", provider.name), exclude=provider.id)
    key = f"{changes.get('vendor', provider.vendor)}:{changes.get('provider_type', provider.provider_type)}"
    policy = changes.get("plugin_version", provider.plugin_version)
    _check_policy_role(user, provider.plugin_version, policy)
    if policy is not None and (key != provider.key or policy != provider.plugin_version):
        version = check_policy(session, key, policy).version
    else:
        version = resolve(session, key, policy).version
    config = changes.pop("connection_config", None)
    stored = provider.secrets
    if key != provider.key:
        _check_secrets_resent(context, provider, config)
        stored = None  # never carried over to another plugin
    if config is not None or key != provider.key:
        public, sealed = _split_config(
            context,
            config if config is not None else dict(provider.connection_config),
            _manifest(version),
            stored,
        )
        provider.connection_config, provider.secrets = public, sealed
    if "plugin_version" in changes:
        provider.plugin_version = changes.pop("plugin_version")
    for field, value in changes.items():
        if value is not None or field in ("infrastructure", "endpoint"):
            setattr(
                provider,
                "organization_id" if field == "organization" else field,
                value if value is not None else "",
            )
    session.commit()
    return _public(session, provider)


@router.patch("/{provider_id}/")
def patch_provider(
    provider_id: int,
    body: ProviderUpdate,
    context: ContextDep,
    session: SessionDep,
    user: CurrentUser,
) -> ProviderPublic:
    return _update(provider_id, body, context, session, user)


@router.put("/{provider_id}/")
def put_provider(
    provider_id: int,
    body: ProviderCreate,
    context: ContextDep,
    session: SessionDep,
    user: CurrentUser,
) -> ProviderPublic:
    # A PUT without plugin_version (a seed client knows none) keeps the provider's policy.
    kept = set() if "plugin_version" in body.model_fields_set else {"plugin_version"}
    update = ProviderUpdate(**body.model_dump(exclude=kept))
    return _update(provider_id, update, context, session, user)


def _active_run(session: Session, provider_id: int) -> CollectionRun | None:
    return session.scalar(
        select(CollectionRun).where(
            CollectionRun.provider_id == provider_id, CollectionRun.status.in_(ACTIVE)
        )
    )


@router.delete(
    "/{provider_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=conflict("A collection run of the provider is pending or running"),
    description="Delete the provider **and everything collected from it**: its resources "
    "with all their history, its collection runs and its events. To stop collecting "
    'but keep the inventory, disable it instead (`PATCH {"enabled": false}`).',
)
def delete_provider(
    provider_id: int, context: ContextDep, session: SessionDep, user: CurrentUser
) -> Response:
    provider = _get(session, user, provider_id, Role.ADMIN)
    running = _active_run(session, provider_id)
    if running is not None:
        raise HTTPException(
            409, detail=f"collection run {running.id} is {running.status}; cancel it first"
        )
    lock_out_indexers(session)
    session.delete(provider)
    session.commit()
    for slot in provider_slots(provider_id):
        context.supervisor.discard(slot)
    shutil.rmtree(state_dir_of(context.settings, provider_id), ignore_errors=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _lock(session: Session, provider: Provider) -> None:
    """Hold the provider's row until commit, so two requests cannot both start a run.

    A no-op UPDATE rather than ``SELECT … FOR UPDATE``: it takes the row lock on
    PostgreSQL and the database write lock on SQLite, which has no row locks.
    """
    session.execute(
        update(Provider)
        .where(Provider.id == provider.id)
        .values(updated_at=Provider.updated_at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(provider)


def start_collection(
    session: Session,
    executor: Submitter,
    provider: Provider,
    *,
    trigger: str,
    request: CollectRequest | None = None,
) -> CollectionRun:
    """Start a run of ``provider`` (409 when it is disabled or has one in progress)."""
    _lock(session, provider)
    if not provider.enabled:
        raise HTTPException(
            409,
            detail=f'provider {provider.id} is disabled; enable it with PATCH {{"enabled": true}} first',
        )
    running = _active_run(session, provider.id)
    if running is not None:
        raise HTTPException(
            409, detail=f"collection run {running.id} is already {running.status} for this provider"
        )
    targets = _targets(session, provider, request) if request is not None else None
    run = CollectionRun(
        provider_id=provider.id,
        plugin_key=provider.key,
        trigger=trigger,
        collection_type="targeted" if targets else "full",
        target_resource_types=targets,
    )
    session.add(run)
    session.commit()
    executor.submit(run_collection, run.id)
    return run


def _targets(session: Session, provider: Provider, request: CollectRequest) -> list[str] | None:
    """The checked types of a targeted request; None for a full one; 400 naming the field."""
    types = request.target_resource_types
    if request.collection_type == "full":
        if types:
            raise HTTPException(
                400,
                detail="target_resource_types: only with collection_type 'targeted' "
                "(a full collection collects every type)",
            )
        return None
    if not types:
        raise HTTPException(
            400, detail="target_resource_types: a targeted collection needs at least one type"
        )
    version = resolve_for(session, provider).version
    supported = version.manifest.get("supported_resource_types") if version else None
    for index, slug in enumerate(types):
        if not taxonomy.is_known(slug):
            raise HTTPException(
                400,
                detail=f"target_resource_types[{index}]: unknown resource type {slug!r} "
                "(see GET resource-types/)",
            )
        if supported and slug not in supported:
            raise HTTPException(
                400,
                detail=f"target_resource_types[{index}]: {provider.key} does not collect "
                f"{slug!r} (it collects {', '.join(supported)})",
            )
    return sorted(set(types))


@router.post(
    "/{provider_id}/collect/",
    status_code=status.HTTP_202_ACCEPTED,
    responses=conflict("The provider is disabled or has a pending or running run"),
    description="Start a collection. No body (or `collection_type` full) collects every "
    'type; `{"collection_type": "targeted", "target_resource_types": ["virtual_machine"]}` '
    "collects only those types, and marks only resources of those types deleted.",
)
def collect(
    provider_id: int,
    session: SessionDep,
    executor: ExecutorDep,
    user: CurrentUser,
    body: Annotated[CollectRequest | None, Body()] = None,
) -> CollectionRunPublic:
    provider = _get(session, user, provider_id, Role.OPERATOR)
    run = start_collection(
        session, executor, provider, trigger=f"user:{user.username}", request=body
    )
    return run_public(run)


@router.post("/{provider_id}/test/")
def test_provider(
    provider_id: int, context: ContextDep, session: SessionDep, user: CurrentUser
) -> ConnectionResult:
    provider = _get(session, user, provider_id, Role.OPERATOR)
    resolution = resolve_for(session, provider)
    version = resolution.version
    if version is None:
        return ConnectionResult(
            provider=provider.id, name=provider.name, ok=False, message=resolution.reason or ""
        )
    ok, message = check_connection(context, provider, version)
    return ConnectionResult(provider=provider.id, name=provider.name, ok=ok, message=message)
