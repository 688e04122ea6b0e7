"""A provider's create and edit form, generated from its plugin's ``connection_parameters``
(types, defaults, required; secrets as write-only password fields showing
``$encrypted$``). The form posts to the API (``POST``/``PATCH providers/``), which
checks and stores it as for any client; administrators only are offered it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Organization, PluginVersion, Provider
from ..db.states import Role, VersionState
from ..registry.versions import latest_compatible, resolve
from ..secretbox import ENCRYPTED
from .deps import PageError, PageSession, PageVisitor, Visitor
from .providers import provider_of
from .templating import page

router = APIRouter(include_in_schema=False)


def _plugin_keys(session: Session) -> list[str]:
    keys = session.scalars(
        select(PluginVersion.key).where(PluginVersion.state == VersionState.READY).distinct()
    )
    return sorted(keys)


def _organizations(session: Session, visitor: Visitor) -> list[Organization]:
    """The organizations where the visitor may create providers (admin role)."""
    found = session.scalars(select(Organization).order_by(Organization.id))
    return [o for o in found if visitor.may(session, Role.ADMIN, o.id)]


def _parameters(
    session: Session, key: str, config: dict[str, Any], policy: str | None = None
) -> list[dict[str, Any]]:
    """The form's fields of the plugin's parameters, with the stored values (secrets:
    ``$encrypted$`` when one is stored, never the value): those of the version the
    provider's ``policy`` resolves to (a new provider's: the latest compatible)."""
    version = (
        latest_compatible(session, key) if policy is None else resolve(session, key, policy).version
    )
    if version is None:
        raise PageError(404, f"no plugin is installed for {key!r}")
    fields = []
    for spec in version.manifest.get("connection_parameters") or []:
        name = spec["name"]
        value = config.get(name, spec.get("default"))
        fields.append(
            {
                "name": name, "type": spec.get("type", "string"),
                "required": bool(spec.get("required")), "secret": bool(spec.get("secret")),
                "description": spec.get("description") or "",
                "value": ENCRYPTED if spec.get("secret") and name in config else value,
            }
        )  # fmt: skip
    return fields


@router.get("/providers/new")
def new_provider(
    request: Request,
    session: PageSession,
    visitor: PageVisitor,
    plugin: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    organizations = _organizations(session, visitor)
    if not organizations:
        raise PageError(403, "creating a provider needs the admin role in an organization")
    keys = _plugin_keys(session)
    key = plugin or (keys[0] if keys else None)
    return page(
        request,
        "provider_form.html",
        provider=None,
        keys=keys,
        key=key,
        organizations=organizations,
        parameters=_parameters(session, key, {}) if key else [],
    )


@router.get("/providers/{provider_id}/edit")
def edit_provider(
    request: Request, provider_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    provider: Provider = provider_of(session, visitor, provider_id)
    if not visitor.may(session, Role.ADMIN, provider.organization_id):
        raise PageError(
            403,
            f"editing a provider needs the admin role in organization {provider.organization_id}",
        )
    return page(
        request,
        "provider_form.html",
        provider=provider,
        keys=[provider.key],
        key=provider.key,
        organizations=_organizations(session, visitor),
        parameters=_parameters(
            session, provider.key, provider.connection_config or {}, provider.plugin_version
        ),
    )
