"""Lifecycle actions on a resource or a provider: what can be done now, and doing it.

Listing asks the provider's plugin which declared actions apply (and whether each is
available now, with the reason when not). Running one checks the name and the
parameters against what the plugin declares (400 naming the parameter), refuses a
second action on a resource while one is pending or running (409), records an
``ActionRun`` and starts it as a job (202); see ``jobs/action.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inventory_providers.actions import ActionDefinitionError, Param, check_params

from ...calls.actions import Offer, offered_actions
from ...context import Context
from ...db.models import ActionRun, PluginVersion, Provider, Resource, User
from ...db.states import Role
from ...db.storable import INT_MAX
from ...jobs.action import run_action
from ...jobs.forward import Submitter
from ...registry.versions import resolve_for
from ...runtime.errors import PluginRuntimeError
from ...secretbox import ENCRYPTED, SecretKeyError
from ..deps import ContextDep, CurrentUser, ExecutorDep, SessionDep, get_in_scope_or_404
from ..openapi import conflict
from ..schemas_actions import ActionListPublic, ActionRequest, ActionRunPublic
from .action_runs import ACTIVE, action_run_public

router = APIRouter(tags=["actions"])

_BAD_GATEWAY: dict[int | str, dict[str, Any]] = {
    502: {"description": "The plugin could not say which actions it has"}
}


def _resource(session: Session, user: User, resource_id: int, need: Role) -> Resource:
    return get_in_scope_or_404(
        session, user, Resource, resource_id, "resource", need=need, limit=INT_MAX
    )


def _provider(session: Session, user: User, provider_id: int, need: Role) -> Provider:
    return get_in_scope_or_404(session, user, Provider, provider_id, "provider", need=need)


def _offer(
    context: Context, provider: Provider, version: PluginVersion, resource: Resource | None
) -> Offer:
    try:
        return offered_actions(context, provider, version, resource)
    except (PluginRuntimeError, SecretKeyError) as exc:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail=f"the plugin could not list its actions: {exc}"
        ) from None


def _listing(
    context: Context, session: Session, provider: Provider, resource: Resource | None
) -> ActionListPublic:
    resolution = resolve_for(session, provider)
    version = resolution.version
    empty = ActionListPublic(
        resource=resource.id if resource else None,
        provider=provider.id,
        plugin_key=provider.key,
        profiles=[],
        actions=[],
    )
    if version is None:
        return empty.model_copy(update={"message": resolution.reason})
    offer = _offer(context, provider, version, resource)
    message = "" if offer.actions else f"{provider.key} offers no action here"
    return ActionListPublic.model_validate(
        {
            **empty.model_dump(),
            "profiles": offer.profiles,
            "actions": offer.actions,
            "message": message,
        }
    )


@router.get("/resources/{resource_id}/actions/", responses=_BAD_GATEWAY)
def list_resource_actions(
    resource_id: int, context: ContextDep, session: SessionDep, user: CurrentUser
) -> ActionListPublic:
    """The actions the resource's plugin offers for it, each with whether it can run now."""
    resource = _resource(session, user, resource_id, Role.VIEWER)
    return _listing(context, session, resource.provider, resource)


@router.get("/providers/{provider_id}/actions/", responses=_BAD_GATEWAY)
def list_provider_actions(
    provider_id: int, context: ContextDep, session: SessionDep, user: CurrentUser
) -> ActionListPublic:
    """The provider-level actions of the provider's plugin (templates, instances, …)."""
    provider = _provider(session, user, provider_id, Role.VIEWER)
    return _listing(context, session, provider, None)


_RUN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **conflict(
        "No plugin, a disabled provider, an action not available now, or another action "
        "pending or running on the same resource"
    ),
    **_BAD_GATEWAY,
}


@router.post(
    "/resources/{resource_id}/actions/{name}/",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_RUN_RESPONSES,
)
def run_resource_action(
    resource_id: int,
    name: str,
    context: ContextDep,
    session: SessionDep,
    executor: ExecutorDep,
    user: CurrentUser,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> ActionRunPublic:
    """Run the action ``name`` on the resource (operator or above); the run is returned
    at once and goes on as a job: follow it at ``GET action-runs/{id}/``."""
    resource = _resource(session, user, resource_id, Role.OPERATOR)
    if resource.deleted_at is not None:
        raise HTTPException(409, detail=f"resource {resource.id} is deleted on its platform")
    request = body or ActionRequest()
    run = _start(context, session, executor, user, resource.provider, resource, name, request)
    return action_run_public(run)


@router.post(
    "/providers/{provider_id}/actions/{name}/",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_RUN_RESPONSES,
)
def run_provider_action(
    provider_id: int,
    name: str,
    context: ContextDep,
    session: SessionDep,
    executor: ExecutorDep,
    user: CurrentUser,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> ActionRunPublic:
    """Run the provider-level action ``name`` (list templates, create an instance, …)."""
    provider = _provider(session, user, provider_id, Role.OPERATOR)
    request = body or ActionRequest()
    run = _start(context, session, executor, user, provider, None, name, request)
    return action_run_public(run)


def _start(
    context: Context,
    session: Session,
    executor: Submitter,
    user: User,
    provider: Provider,
    resource: Resource | None,
    name: str,
    request: ActionRequest,
) -> ActionRun:
    resolution = resolve_for(session, provider)
    version = resolution.version
    if version is None:
        raise HTTPException(409, detail=resolution.reason)
    if not provider.enabled:
        raise HTTPException(409, detail=f"provider {provider.id} is disabled; enable it first")
    _refuse_busy(session, provider, resource)  # before asking the plugin, which is busy too
    offer = _offer(context, provider, version, resource)
    spec = offer.find(name)
    if spec is None:
        where = f"{resource.resource_type} {resource.id}" if resource else f"provider {provider.id}"
        names = ", ".join(str(a["name"]) for a in offer.actions) or "none"
        raise HTTPException(404, detail=f"no action {name!r} for {where} (actions: {names})")
    if not spec.get("available", True):
        raise HTTPException(409, detail=f"{name} is not available now: {spec.get('reason') or '?'}")
    params, secrets = _checked(spec, request.params)
    _lock(session, provider)
    _refuse_busy(session, provider, resource)
    run = ActionRun(
        provider_id=provider.id,
        resource_id=resource.id if resource else None,
        ems_ref=resource.ems_ref if resource else None,
        action=name,
        parameters={**params, **dict.fromkeys(secrets, ENCRYPTED)},
        secret_parameters=context.box.seal(secrets),
        requested_by=user.username,
        requested_by_id=user.id,
    )
    session.add(run)
    session.commit()
    executor.submit(run_action, run.id)
    return run


def _checked(spec: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plain, secret)`` parameters, checked against the plugin's declaration (400)."""
    try:
        declared = [_param(p) for p in spec.get("params") or []]
    except (ActionDefinitionError, KeyError, TypeError) as exc:
        raise HTTPException(
            502, detail=f"the plugin declares {spec['name']} badly: {exc}"
        ) from None
    try:
        checked = check_params(declared, given)
    except ValueError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    secret = {p.name for p in declared if p.secret}
    plain = {k: v for k, v in checked.items() if k not in secret}
    return plain, {k: v for k, v in checked.items() if k in secret}


def _param(declared: dict[str, Any]) -> Param:
    """A parameter as the plugin declared it on the wire."""
    choices = declared.get("choices")
    return Param(
        name=declared["name"],
        type=declared.get("type", "string"),
        required=bool(declared.get("required")),
        default=declared.get("default"),
        secret=bool(declared.get("secret")),
        choices=tuple(choices) if choices is not None else None,
    )


def _refuse_busy(session: Session, provider: Provider, resource: Resource | None) -> None:
    """409 while another action is pending or running on the same resource (or, for a
    provider-level action, another provider-level action of the provider)."""
    target = (
        ActionRun.resource_id == resource.id
        if resource is not None
        else (ActionRun.provider_id == provider.id) & ActionRun.resource_id.is_(None)
    )
    busy = session.scalar(select(ActionRun).where(target, ActionRun.status.in_(ACTIVE)))
    if busy is not None:
        raise HTTPException(
            409,
            detail=f"action run {busy.id} ({busy.action}) is {busy.status} here; "
            "wait for it or cancel it",
        )


def _lock(session: Session, provider: Provider) -> None:
    """Hold the provider's row until commit, so two requests cannot both start an action.

    A no-op UPDATE, as for collections: a row lock on PostgreSQL, the write lock on SQLite.
    """
    session.execute(
        update(Provider)
        .where(Provider.id == provider.id)
        .values(updated_at=Provider.updated_at)
        .execution_options(synchronize_session=False)
    )
