"""``estate provider …``: create, show, change, delete, collect and test providers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from . import runs
from .client import FAILED, USAGE, api, fail
from .output import Column, Format, confirm, emit, fields, info, page, warn
from .params import All, Config, Limit, Output, Yes, id_argument, parse_config

app = typer.Typer(
    help="Create, show, change, delete, collect and test providers.", no_args_is_help=True
)

ProviderId = Annotated[int, id_argument("provider")]
Name = Annotated[str | None, typer.Option(help="The provider's name", metavar="NAME")]
Endpoint = Annotated[
    str | None, typer.Option(help="Host name or URL of the platform", metavar="HOST")
]
Organization = Annotated[int | None, typer.Option(help="Organization id", metavar="ID")]
Infrastructure = Annotated[
    str | None, typer.Option(help="private_cloud, public_cloud, …", metavar="KIND")
]

COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("key", lambda p: f"{p['vendor']}:{p['provider_type']}"),
    ("endpoint", "endpoint"),
    ("enabled", "enabled"),
    ("plugin", lambda p: "yes" if p["plugin_installed"] else "missing"),
    ("last refresh", lambda p: p["last_refresh_at"] or "never"),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="provider")


def _written(provider: dict[str, Any], verb: str, output: Format) -> None:
    if not provider["plugin_installed"]:
        key = f"{provider['vendor']}:{provider['provider_type']}"
        warn(
            f"no plugin is installed for {key}: provider {provider['id']} cannot collect until one is uploaded"
        )
    emit(provider, output, lambda p: Text(f"{verb} provider {p['id']} {p['name']!r}"))


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The provider's name", metavar="NAME")],
    key: Annotated[str, typer.Option(help="Plugin key, vendor:provider_type", metavar="KEY")],
    endpoint: Endpoint = None,
    config: Config = None,
    organization: Organization = None,
    infrastructure: Infrastructure = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Create it disabled", metavar="")
    ] = False,
    output: Output = Format.table,
) -> None:
    """Create a provider (a plugin that is not installed yet is allowed, with a warning)."""
    vendor, sep, provider_type = key.partition(":")
    if not sep or not vendor or not provider_type:
        raise fail(f"--key: expected vendor:provider_type, got {key!r}", USAGE)
    body = {
        "name": name,
        "vendor": vendor,
        "provider_type": provider_type,
        "endpoint": endpoint or "",
        "organization": organization or 1,
        "infrastructure": infrastructure or "",
        "connection_config": parse_config(config or []),
        "enabled": not disabled,
    }
    with api() as client:
        created = client.post("providers/", json=body)
    _written(created, "created", output)


@app.command("list")
def list_providers(
    key: Annotated[
        str | None, typer.Option(help="Only this plugin's, vendor:provider_type", metavar="KEY")
    ] = None,
    organization: Organization = None,
    limit: Limit = 100,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """The providers."""
    vendor, _, provider_type = (key or "").partition(":")
    params: dict[str, Any] = {"vendor": vendor or None, "provider_type": provider_type or None}
    params["organization"] = organization
    with api() as client:
        data = client.page("providers/", params, limit=limit, every=every)
    emit(data, output, lambda d: page(d, COLUMNS, "provider(s)"))


@app.command("show")
def show(provider_id: ProviderId, output: Output = Format.table) -> None:
    """One provider; secrets read back as $encrypted$."""
    with api() as client:
        provider = client.get(f"providers/{provider_id}/")
    emit(provider, output, fields)


@app.command("update")
def update(
    provider_id: ProviderId,
    name: Name = None,
    endpoint: Endpoint = None,
    config: Config = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Let it collect, or not", metavar="")
    ] = None,
    organization: Organization = None,
    infrastructure: Infrastructure = None,
    output: Output = Format.table,
) -> None:
    """Change a provider; -c entries are merged into its connection_config."""
    body: dict[str, Any] = {
        k: v
        for k, v in {
            "name": name,
            "endpoint": endpoint,
            "enabled": enable,
            "organization": organization,
            "infrastructure": infrastructure,
        }.items()
        if v is not None
    }
    with api() as client:
        if config:
            current = client.get(f"providers/{provider_id}/")
            # Secrets read back as "$encrypted$", which the API takes as "keep the stored one".
            body["connection_config"] = {**current["connection_config"], **parse_config(config)}
        if not body:
            raise fail(
                "nothing to change: give --name, --endpoint, -c, --enable/--disable, …", USAGE
            )
        changed = client.call("PATCH", f"providers/{provider_id}/", json=body)
    _written(changed, "updated", output)


@app.command("delete")
def delete(provider_id: ProviderId, yes: Yes = False) -> None:
    """Delete a provider with all its resources and their history."""
    with api() as client:
        provider = client.get(f"providers/{provider_id}/")
        confirm(
            f"Delete provider {provider_id} {provider['name']!r} with all its resources and their history?",
            yes,
        )
        client.call("DELETE", f"providers/{provider_id}/")
    info(f"deleted provider {provider_id} {provider['name']!r}")


@app.command("collect")
def collect(
    provider_id: ProviderId,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Follow the run to its end; exit 1 unless it completed", metavar=""
        ),
    ] = False,
    output: Output = Format.table,
) -> None:
    """Start a collection run."""
    with api() as client:
        run = client.post(f"providers/{provider_id}/collect/")
        if not wait:
            emit(run, output, lambda r: Text(f"collection run {r['id']} {r['status']}"))
            return
        info(f"collection run {run['id']} {run['status']}")
        run = runs.follow(client, run["id"])
    emit(run, output, runs.summary)
    if run["status"] != "completed":
        raise typer.Exit(FAILED)


@app.command("test")
def test(provider_id: ProviderId, output: Output = Format.table) -> None:
    """Test the provider's connection through its plugin; exit 1 when it fails."""
    with api() as client:
        answer = client.post(f"providers/{provider_id}/test/")
    word = "ok" if answer["ok"] else "failed"
    emit(answer, output, lambda a: Text(f"{word} {a['name']}: {a['message']}"))
    if not answer["ok"]:
        raise typer.Exit(FAILED)


def _moved(answer: dict[str, Any], output: Format) -> None:
    for warning in answer.get("warnings") or []:
        warn(warning)
    emit(
        answer,
        output,
        lambda a: Text(f"provider {a['provider']}: {a['from_version']} → {a['to_version']}"),
    )


@app.command("pin")
def pin(
    provider_id: ProviderId,
    version: Annotated[str, typer.Argument(help="An exact version", metavar="VERSION")],
    output: Output = Format.table,
) -> None:
    """Run exactly one installed version of the provider's plugin."""
    with api() as client:
        answer = client.post(f"providers/{provider_id}/pin/", json={"version": version})
    _moved(answer, output)


@app.command("unpin")
def unpin(provider_id: ProviderId, output: Output = Format.table) -> None:
    """Back to the latest compatible version."""
    with api() as client:
        answer = client.post(f"providers/{provider_id}/unpin/")
    _moved(answer, output)


@app.command("upgrade")
def upgrade(
    provider_id: ProviderId,
    to: Annotated[str, typer.Argument(help="A version or a policy (~1.5)", metavar="TO")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing", metavar="")
    ] = False,
    output: Output = Format.table,
) -> None:
    """Move the provider to another version or policy; --dry-run shows the manifest diff."""
    with api() as client:
        answer = client.post(
            f"providers/{provider_id}/upgrade/", json={"to": to, "dry_run": dry_run}
        )
    for warning in answer["warnings"]:
        warn(warning)
    emit(answer, output, _diff_table)


def _diff_table(answer: dict[str, Any]) -> Table:
    verb = "would move" if answer["dry_run"] else "moved"
    title = (
        f"provider {answer['provider']} {verb} {answer['from_version']} → {answer['to_version']}"
    )
    table = Table("what", "added", "removed", "changed", title=title)
    diff = answer["diff"]
    for name in ("resource_types", "profiles", "actions", "requirements"):
        part = diff[name]
        table.add_row(name, ", ".join(part["added"]), ", ".join(part["removed"]), "")
    params = diff["connection_parameters"]
    changed = [c["name"] for c in params["changed"]]
    required = [f"{n} (required)" for n in params["newly_required"]]
    table.add_row(
        "connection_parameters",
        ", ".join(params["added"]),
        ", ".join(params["removed"]),
        ", ".join(changed + required),
    )
    for key, change in diff["compatibility"].items():
        table.add_row(key, "", "", f"{change['from']} → {change['to']}")
    return table


@app.command("rollback")
def rollback(provider_id: ProviderId, output: Output = Format.table) -> None:
    """Back to the exact version the provider ran before its version last changed."""
    with api() as client:
        answer = client.post(f"providers/{provider_id}/rollback/")
    _moved(answer, output)
