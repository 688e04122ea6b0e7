"""``estate resources …`` and ``estate resource-types list``: browse the inventory."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType

from .client import api
from .output import Column, Format, emit, fields, page, rows
from .params import All, Limit, Output, ProviderFilter, id_argument

app = typer.Typer(
    help="Browse the inventory: resources, relationships, history.", no_args_is_help=True
)
types_app = typer.Typer(help="The resource-type taxonomy.", no_args_is_help=True)

ResourceId = Annotated[int, id_argument("resource")]
COLUMNS: list[Column] = [
    ("id", "id"),
    ("type", "resource_type"),
    ("name", "name"),
    ("state", "state"),
    ("provider", "provider"),
    ("region", "region"),
    ("ems_ref", "ems_ref"),
]
SHOWN = ["id", "provider", "ems_ref", "resource_type", "name", "state", "power_state"]
SHOWN += ["region", "availability_zone", "flavor", "cpu_count", "memory_mb", "disk_gb"]
SHOWN += ["ip_addresses", "fqdn", "os_name", "properties", "provider_tags"]
SHOWN += ["first_seen_at", "last_seen_at", "deleted_at"]
EDGES: list[Column] = [
    ("direction", "direction"),
    ("type", "relationship_type"),
    ("resource", "resource_id"),
    ("name", "name"),
    ("resource type", "resource_type"),
    ("ems_ref", "ems_ref"),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = types_app.info.epilog = epilog
    root.add_typer(app, name="resources")
    root.add_typer(types_app, name="resource-types")


@app.command("list")
def list_resources(
    provider: ProviderFilter = None,
    resource_type: Annotated[
        str | None, typer.Option("--type", help="Resource type slug", metavar="SLUG")
    ] = None,
    state: Annotated[str | None, typer.Option(help="running, stopped, …", metavar="STATE")] = None,
    vendor: Annotated[
        str | None, typer.Option(help="The provider's vendor", metavar="VENDOR")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region", metavar="REGION")] = None,
    search: Annotated[
        str | None, typer.Option(help="Part of the name or ems_ref", metavar="TEXT")
    ] = None,
    deleted: Annotated[
        bool, typer.Option("--deleted", help="Include deleted resources", metavar="")
    ] = False,
    limit: Limit = 50,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """Resources, with filters."""
    params = {"provider": provider, "resource_type": resource_type, "state": state}
    params |= {"vendor": vendor, "region": region, "search": search}
    params["include_deleted"] = deleted or None
    with api() as client:
        data = client.page("resources/", params, limit=limit, every=every)
    emit(data, output, lambda d: page(d, COLUMNS, "resource(s)"))


@app.command("show")
def show(resource_id: ResourceId, output: Output = Format.table) -> None:
    """One resource with its relationships, both directions."""
    with api() as client:
        resource = client.get(f"resources/{resource_id}/")
    emit(resource, output, _detail)


def _detail(resource: dict[str, Any]) -> RenderableType:
    edges = resource["relationships"]
    if not edges:
        return fields(resource, SHOWN)
    return Group(fields(resource, SHOWN), rows(edges, EDGES, title=f"{len(edges)} relationship(s)"))


@app.command("history")
def history(
    resource_id: ResourceId,
    limit: Limit = 100,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """A resource's changes, newest first; the last is its creation."""
    columns: list[Column] = [("id", "id"), ("kind", "kind"), ("run", "run"), ("at", "changed_at")]
    columns.append(("fields", lambda c: ", ".join(sorted(c["changes"] or {}))))
    with api() as client:
        data = client.page(f"resources/{resource_id}/history/", {}, limit=limit, every=every)
    emit(data, output, lambda d: page(d, columns, "change(s)"))


@types_app.command("list")
def list_types(
    category: Annotated[
        str | None, typer.Option(help="Only this category", metavar="CATEGORY")
    ] = None,
    output: Output = Format.table,
) -> None:
    """The resource types plugins may report."""
    columns: list[Column] = [("slug", "slug"), ("name", "name"), ("category", "category")]
    with api() as client:
        data = client.get("resource-types/", category=category)
    emit(data, output, lambda d: page(d, columns, "resource type(s)"))
