"""Resources: the inventory as a table (the API's filters, search and counts; a page's
ids first, from an index, then its rows; rows picked for tags and watchlists) and a
resource's page: fields, properties, tags, sightings, history as a diff timeline,
relationships as a graph and as links, and its actions as forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import taxonomy
from ..calls.actions import offered_actions
from ..context import Context
from ..db.models import ActionRun, Resource, ResourceSeen, Watchlist
from ..db.states import Role, RunStatus
from ..inventory import watchlists
from ..inventory.counts import listed
from ..inventory.neighbourhood import neighbourhood
from ..inventory.queries import (
    ResourceFilter,
    created_entry,
    history_query,
    providers_of_organizations,
    relationships_of,
    resource_query,
    rows_in_order,
)
from ..inventory.sightings import SightingFilter, ordered, sighting_item, sighting_query
from ..inventory.tags import parse_tag, tags_of
from ..registry.versions import resolve_for
from ..runtime.errors import PluginRuntimeError
from ..secretbox import SecretKeyError
from . import live
from .dashboard import TYPE_NAMES, visible_providers
from .deps import LiveVisitor, PageError, PageSession, PageVisitor, Visitor, visible_or_404
from .graph import layout
from .templating import fragment, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGE = 2000
HISTORY = 50
SIGHTINGS = 10
SORTABLE = {
    "id": Resource.id,
    "name": Resource.name,
    "resource_type": Resource.resource_type,
    "state": Resource.state,
    "last_seen_at": ResourceSeen.last_seen_at,
}
FIELDS = (
    "name", "resource_type", "state", "power_state", "vendor_type", "ems_ref", "canonical_id",
    "description", "region", "availability_zone", "cloud_tenant", "flavor", "cpu_count",
    "memory_mb", "disk_gb", "ip_addresses", "fqdn", "mac_addresses", "os_type", "os_name",
    "boot_time", "ems_created_on", "inventory_group", "ansible_host", "provider_tags",
    "vendor_identifiers", "first_seen_at", "last_seen_at", "deleted_at",
)  # fmt: skip
STATES = ("active", "inactive", "running", "stopped", "suspended", "provisioning",
          "terminated", "decommissioned", "error", "unknown")  # fmt: skip
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)

Text = Annotated[str | None, Query(max_length=200)]


def _filters(visitor: Visitor, session: Session, **given: Any) -> ResourceFilter:
    providers = None
    if visitor.visible is not None:
        providers = providers_of_organizations(session, visitor.visible)
    return ResourceFilter(
        **{k: v for k, v in given.items() if v not in (None, "")}, providers=providers
    )


def _order(sort: str) -> list[Any]:
    """The column, then the id in the same direction: one index (``ix_resources_alive_*``,
    read backwards for a descending sort) gives the page without sorting any row."""
    column = SORTABLE.get(sort.removeprefix("-"))
    if column is None:
        raise PageError(400, f"sort: {sort!r} is not one of {', '.join(SORTABLE)}")
    if sort.startswith("-"):
        return [column.desc()] if column is Resource.id else [column.desc(), Resource.id.desc()]
    return [column.asc()] if column is Resource.id else [column.asc(), Resource.id.asc()]


@router.get("/resources")
def resource_list(
    request: Request,
    session: PageSession,
    visitor: PageVisitor,
    search: Text = None,
    provider: Text = None,  # text: the form sends "" for every provider
    resource_type: Text = None,
    state: Text = None,
    tag: Text = None,
    sort: Annotated[str, Query(max_length=40)] = "id",
    page_number: Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    if provider and not (provider.isdigit() and 0 < int(provider) < 2**31):
        raise PageError(400, f"provider: {provider!r} is not a provider id")
    filters = _filters(
        visitor, session, search=search, provider=int(provider) if provider else None, resource_type=resource_type,
        state=state, tags=_tag_filter(tag),
    )  # fmt: skip
    query = resource_query(filters)
    listing = listed(session, filters, query)  # a search's few matches: one query
    offset = (page_number - 1) * PAGE_SIZE
    if listing.few is not None and sort == "id":
        rows = rows_in_order(session, listing.few[offset : offset + PAGE_SIZE])
    else:
        order = None if sort == "id" else _order(sort)
        # one row more than the page: whether an estimated list goes on
        ids = listing.numbered(session, filters, offset, PAGE_SIZE + 1, order)
        rows = rows_in_order(session, ids)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    total, estimated = listing.settled(offset, len(rows), more)
    providers = {p.id: p for p in visible_providers(session, visitor)}
    values = {
        "search": search or "",
        "provider": int(provider) if provider else "",
        "resource_type": resource_type or "",
        "state": state or "",
        "tag": tag or "",
    }
    pickable = {r.id for r in rows if _may_operate(session, visitor, providers, r.provider_id)}
    return page(
        request,
        "resources.html",
        rows=rows,
        total=total,
        estimated=estimated,
        page_number=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        sort=sort,
        values=values,
        providers=providers,
        type_names=TYPE_NAMES,
        types=taxonomy.RESOURCE_TYPES,
        states=STATES,
        tags=tags_of(session, [r.id for r in rows]),
        pickable=pickable,
        watchlists=_static_watchlists(session, visitor) if pickable else [],
    )


def _tag_filter(tag: str | None) -> tuple[Any, ...] | None:
    if not tag:
        return None
    try:
        return (parse_tag(tag),)
    except ValueError as exc:
        raise PageError(400, f"tag: {exc}") from None


def _may_operate(session: Session, visitor: Visitor, providers: dict[int, Any], pid: int) -> bool:
    provider = providers.get(pid)
    return provider is not None and visitor.may(session, Role.OPERATOR, provider.organization_id)


def _static_watchlists(session: Session, visitor: Visitor) -> list[Watchlist]:
    """The static watchlists the visitor may add resources to (the API checks again)."""
    query = select(Watchlist).where(Watchlist.watchlist_type == watchlists.STATIC)
    if visitor.visible is not None:
        query = query.where(Watchlist.organization_id.in_(visitor.visible))
    rows = session.scalars(query.order_by(Watchlist.name, Watchlist.id).limit(200))
    return [w for w in rows if visitor.may(session, Role.OPERATOR, w.organization_id)]


def _resource(session: Session, visitor: Visitor, resource_id: int) -> Resource:
    resource = session.get(Resource, resource_id) if 0 < resource_id < 2**63 else None
    visible_or_404(session, visitor, resource, "resource")
    assert resource is not None
    return resource


def _history(session: Session, resource: Resource) -> list[Any]:
    entries = list(session.scalars(history_query(resource.id).limit(HISTORY + 1)))
    if len(entries) <= HISTORY:
        entries.append(created_entry(session, resource))
    return entries[: HISTORY + 1]


def _action_runs(session: Session, resource_id: int) -> list[ActionRun]:
    return list(
        session.scalars(
            select(ActionRun)
            .where(ActionRun.resource_id == resource_id)
            .order_by(ActionRun.id.desc())
            .limit(10)
        )
    )


def _sightings(session: Session, resource_id: int) -> list[dict[str, Any]]:
    """The latest sightings, as ``resources/{id}/sightings/`` lists them."""
    sightings = sighting_query(SightingFilter(resource=resource_id), None)
    rows = session.execute(ordered(sightings, "-seen_at").limit(SIGHTINGS))
    return [sighting_item(row) for row in rows]


def _parts(session: Session, resource: Resource) -> dict[str, str]:
    return {
        "summary": fragment("_resource_summary.html", resource=resource, type_names=TYPE_NAMES),
        "action-runs": fragment("_action_runs.html", runs=_action_runs(session, resource.id)),
    }


@router.get("/resources/{resource_id}")
def resource_page(
    request: Request, resource_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    resource = _resource(session, visitor, resource_id)
    edges, complete = relationships_of(session, resource)
    fields = [(name, getattr(resource, name)) for name in FIELDS]
    return page(
        request,
        "resource.html",
        resource=resource,
        fields=[(name, value) for name, value in fields if value not in (None, "", [], {})],
        history=_history(session, resource),
        edges=edges,
        edges_complete=complete,
        graph=layout(neighbourhood(session, resource)),
        sightings=_sightings(session, resource.id),
        tags=tags_of(session, [resource.id])[resource.id],
        parts=_parts(session, resource),
        type_names=TYPE_NAMES,
        may_act=visitor.may(session, Role.OPERATOR, resource.provider.organization_id),
    )


@router.get("/resources/{resource_id}/actions")
def resource_actions(
    request: Request, resource_id: int, session: PageSession, visitor: PageVisitor
) -> HTMLResponse:
    """The action forms (a part loaded after the page: it asks the plugin)."""
    resource = _resource(session, visitor, resource_id)
    if not visitor.may(session, Role.OPERATOR, resource.provider.organization_id):
        raise PageError(403, "running actions needs the operator role")
    resolution = resolve_for(session, resource.provider)
    version = resolution.version
    actions: list[dict[str, Any]] = []
    message = ""
    if version is None:
        message = resolution.reason or ""
    elif resource.deleted_at is not None:
        message = "the resource is deleted on its platform"
    else:
        context: Context = request.app.state.context
        try:
            offered = offered_actions(context, resource.provider, version, resource).actions
            actions = [_form_of(spec) for spec in offered]
        except (PluginRuntimeError, SecretKeyError) as exc:
            message = f"the plugin could not list its actions: {exc}"
    return page(request, "_actions.html", resource=resource, actions=actions, message=message)


def _form_of(spec: dict[str, Any]) -> dict[str, Any]:
    """What an action's form shows, every key there (a plugin's answer may omit some)."""
    params = [
        {
            "name": str(p.get("name", "")),
            "type": str(p.get("type", "string")),
            "required": bool(p.get("required")),
            "default": p.get("default"),
            "description": str(p.get("description") or ""),
            "secret": bool(p.get("secret")),
            "choices": p.get("choices"),
        }
        for p in spec.get("params") or []
        if isinstance(p, dict)
    ]
    return {
        "name": str(spec["name"]), "profile": str(spec.get("profile", "")),
        "available": spec.get("available", True) is not False,
        "reason": str(spec.get("reason") or ""), "params": params,
    }  # fmt: skip


@router.get("/live/resources/{resource_id}")
def resource_live(request: Request, resource_id: int, visitor: LiveVisitor) -> StreamingResponse:
    with request.app.state.context.reads() as session:
        _resource(session, visitor, resource_id)

    def look(context: Context) -> live.Snapshot:
        with context.reads() as session:
            resource = session.get(Resource, resource_id)
            if resource is None:
                return None, False, dict
            runs = _action_runs(session, resource_id)
            key = (resource.updated_at, resource.state, tuple((r.id, r.status) for r in runs))
            parts = _parts(session, resource)
        return key, any(r.status in ACTIVE for r in runs), lambda: parts

    return live.stream(request, look)
