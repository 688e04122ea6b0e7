"""The ``estate`` command: run the service, and drive it over its REST API."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import Settings

app = typer.Typer(
    help="Estate: one inventory and control plane for a whole estate.", no_args_is_help=True
)
plugin_app = typer.Typer(help="Package, check and upload provider plugins.", no_args_is_help=True)
provider_app = typer.Typer(help="Create, list and collect providers.", no_args_is_help=True)
resources_app = typer.Typer(help="Browse the inventory.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")
app.add_typer(provider_app, name="provider")
app.add_typer(resources_app, name="resources")
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)
API = "/api/inventory/v1"
FINISHED = ("completed", "partial", "failed", "canceled")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


# -- the service ----------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Create and collect a demo provider on first start")
    ] = False,
) -> None:
    """Run the API and a local job executor in one process."""
    import uvicorn

    from .api.app import create_app
    from .demo import announce, start_demo

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    def on_start(context: Any, executor: Any, login: Any) -> None:
        announce(login, f"http://{host}:{port}")
        if demo:
            start_demo(context, executor)

    uvicorn.run(create_app(settings, on_start=on_start), host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (``serve`` does this at start too)."""
    from .context import Context
    from .db.migrate import current, upgrade

    context = Context.from_settings(Settings())
    upgrade(context.engine)
    console.print(f"database at revision {current(context.engine)}")


# -- plugins --------------------------------------------------------------------


@plugin_app.command("validate")
def plugin_validate(folder: Annotated[Path, typer.Argument(help="Plugin folder")] = Path()) -> None:
    """Check a plugin folder as the service would on upload, without uploading."""
    from .registry.archive import find_root
    from .registry.errors import InvalidPackage
    from .registry.install import define
    from .registry.manifest import parse_manifest
    from .runtime.environments import PluginEnvironment

    if not folder.is_dir():
        raise _fail(f"{folder}: not a folder")
    try:
        root = find_root(folder.resolve(), require_provider=False)
        manifest = parse_manifest((root / "manifest.yml").read_bytes())
        if manifest.runtime is None:
            find_root(root)  # a Python plugin needs its provider.py
        defined = define(PluginEnvironment(root), manifest, Settings())
    except InvalidPackage as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/red] {problem}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]✓[/green] {manifest.key} {manifest.version}: {defined.class_path}, types {', '.join(manifest.supported_resource_types)}"
    )


@plugin_app.command("package")
def plugin_package(
    folder: Annotated[Path, typer.Argument(help="Plugin folder")] = Path(),
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Archive to write")] = None,
) -> None:
    """Make the tar.gz the upload endpoint takes."""
    from .registry.archive import pack
    from .registry.errors import InvalidPackage
    from .registry.manifest import parse_manifest

    try:
        manifest = parse_manifest((folder / "manifest.yml").read_bytes())
        data = pack(folder)
    except (InvalidPackage, OSError) as exc:
        raise _fail(str(exc)) from None
    target = output or Path(f"{manifest.vendor}-{manifest.provider_type}-{manifest.version}.tar.gz")
    target.write_bytes(data)
    console.print(f"wrote {target} ({len(data)} bytes)")


@plugin_app.command("upload")
def plugin_upload(
    path: Annotated[Path, typer.Argument(help="Plugin folder or archive")],
    force: Annotated[bool, typer.Option(help="Replace an installed version")] = False,
) -> None:
    """Upload a plugin folder or archive to the service."""
    from .registry.archive import pack
    from .registry.errors import InvalidPackage

    try:
        data = pack(path) if path.is_dir() else path.read_bytes()
    except (InvalidPackage, OSError) as exc:
        raise _fail(str(exc)) from None
    with _client() as client:
        answer = _check(
            client.post(
                f"{API}/provider-plugins/upload/",
                params={"force": force},
                files={"plugin": ("plugin.tar.gz", data, "application/gzip")},
            )
        )
    console.print(
        f"[green]installed[/green] {answer['key']} {answer['version']} ({answer['class_path']}); types: {', '.join(answer['supported_resource_types'])}"
    )


@plugin_app.command("list")
def plugin_list() -> None:
    """The installed plugins."""
    with _client() as client:
        page = _check(client.get(f"{API}/provider-plugins/"))
    table = Table("key", "version", "source", "state", "providers", "resource types")
    for item in page["results"]:
        table.add_row(
            item["key"],
            item["version"],
            item["source"],
            item["state"],
            str(item["provider_count"]),
            ", ".join(item["supported_resource_types"]),
        )
    console.print(table)


@plugin_app.command("processes")
def plugin_processes() -> None:
    """The long-lived plugin processes: state, pid, restarts, health, last error."""
    with _client() as client:
        page = _check(client.get(f"{API}/plugin-processes/"))
    table = Table("slot", "plugin", "state", "pid", "restarts", "health ms", "last error")
    for item in page["results"]:
        health = item["health_ms"]
        table.add_row(
            item["slot"],
            item["plugin_key"],
            item["state"],
            str(item["pid"] or "-"),
            str(item["restarts"]),
            f"{health:.2f}" if health is not None else "-",
            item["last_error"] or "",
        )
    console.print(table)
    if not page["results"]:
        console.print("no plugin process is up; one starts with a provider's connection test")


# -- providers ------------------------------------------------------------------


@provider_app.command("create")
def provider_create(
    name: Annotated[str, typer.Option(help="Provider name")],
    key: Annotated[str, typer.Option(help="Plugin key, vendor:provider_type")],
    endpoint: Annotated[str, typer.Option(help="Host name or URL of the platform")] = "",
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config", "-c", help="connection_config entry KEY=VALUE (JSON values allowed); repeat"
        ),
    ] = None,
    organization: Annotated[int, typer.Option(help="Organization id")] = 1,
    infrastructure: Annotated[str, typer.Option(help="private_cloud, public_cloud, …")] = "",
) -> None:
    """Create a provider."""
    vendor, sep, provider_type = key.partition(":")
    if not sep or not vendor or not provider_type:
        raise _fail(f"--key: expected vendor:provider_type, got {key!r}", 2)
    body = {
        "name": name,
        "vendor": vendor,
        "provider_type": provider_type,
        "endpoint": endpoint,
        "organization": organization,
        "infrastructure": infrastructure,
        "connection_config": _parse_config(config or []),
    }
    with _client() as client:
        created = _check(client.post(f"{API}/providers/", json=body))
    console.print(f"created provider {created['id']} {created['name']!r}")


def _parse_config(items: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--config: expected KEY=VALUE, got {item!r}", 2)
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config


@provider_app.command("list")
def provider_list() -> None:
    """The providers."""
    with _client() as client:
        page = _check(client.get(f"{API}/providers/", params={"page_size": 1000}))
    table = Table("id", "name", "key", "endpoint", "enabled", "plugin", "last refresh")
    for item in page["results"]:
        table.add_row(
            str(item["id"]),
            item["name"],
            f"{item['vendor']}:{item['provider_type']}",
            item["endpoint"],
            "yes" if item["enabled"] else "no",
            "yes" if item["plugin_installed"] else "[red]missing[/red]",
            str(item["last_refresh_at"] or "never"),
        )
    console.print(table)


@provider_app.command("collect")
def provider_collect(
    provider_id: Annotated[int, typer.Argument(help="Provider id")],
    wait: Annotated[
        bool, typer.Option(help="Follow the run to its end with a progress bar")
    ] = False,
) -> None:
    """Start a collection run; with --wait, follow it and exit non-zero unless it completed."""
    with _client() as client:
        run = _check(client.post(f"{API}/providers/{provider_id}/collect/"))
        console.print(f"collection run {run['id']} {run['status']}")
        if not wait:
            return
        run = _follow(client, run["id"])
    _print_run(run)
    if run["status"] != "completed":
        raise typer.Exit(1)


@provider_app.command("test")
def provider_test(provider_id: Annotated[int, typer.Argument(help="Provider id")]) -> None:
    """Test the provider's connection through its plugin; exit 1 when it fails."""
    with _client() as client:
        answer = _check(client.post(f"{API}/providers/{provider_id}/test/"))
    if answer["ok"]:
        console.print(f"[green]ok[/green] {answer['name']}: {answer['message']}")
        return
    console.print(f"[red]failed[/red] {answer['name']}: {answer['message']}")
    raise typer.Exit(1)


def _follow(client: httpx.Client, run_id: int) -> dict[str, Any]:
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("pending", total=None, counts="")
        while True:
            run: dict[str, Any] = _check(client.get(f"{API}/collection-runs/{run_id}/"))
            counts = f"found {run['resources_found']} · new {run['resources_created']} · changed {run['resources_updated']} · errors {run['errors']}"
            progress.update(task, description=run["status"], counts=counts)
            if run["status"] in FINISHED:
                return run
            time.sleep(0.5)


def _print_run(run: dict[str, Any]) -> None:
    colour = {"completed": "green", "partial": "yellow"}.get(run["status"], "red")
    console.print(
        f"run {run['id']} [{colour}]{run['status']}[/{colour}]: found {run['resources_found']}, "
        f"created {run['resources_created']}, updated {run['resources_updated']}, "
        f"unchanged {run['resources_unchanged']}, deleted {run['resources_deleted']}, errors {run['errors']}"
    )
    if run.get("error_message"):
        console.print(f"  {run['error_message']}")


# -- resources ------------------------------------------------------------------


@resources_app.command("list")
def resources_list(
    provider: Annotated[int | None, typer.Option(help="Provider id")] = None,
    resource_type: Annotated[str | None, typer.Option("--type", help="Resource type slug")] = None,
    state: Annotated[str | None, typer.Option(help="State")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the name")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows", min=1, max=1000)] = 50,
) -> None:
    """A table of resources."""
    params = {
        k: v
        for k, v in {
            "provider": provider,
            "resource_type": resource_type,
            "state": state,
            "search": search,
            "page_size": limit,
        }.items()
        if v is not None
    }
    with _client() as client:
        page = _check(client.get(f"{API}/resources/", params=params))
    table = Table(
        "id",
        "type",
        "name",
        "state",
        "provider",
        "region",
        "ems_ref",
        title=f"{page['count']} resource(s)",
    )
    for item in page["results"]:
        table.add_row(
            str(item["id"]),
            item["resource_type"],
            item["name"] or "",
            item["state"],
            str(item["provider"]),
            item["region"] or "",
            item["ems_ref"],
        )
    console.print(table)


# -- HTTP -----------------------------------------------------------------------


def _client() -> httpx.Client:
    settings = Settings()
    headers = {}
    auth: httpx.BasicAuth | None = None
    if settings.token is not None:
        headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    else:
        password = (
            settings.password.get_secret_value() if settings.password else _saved_password(settings)
        )
        if password is None:
            raise _fail(
                "no credentials: set ESTATE_PASSWORD (or ESTATE_TOKEN) for the API at "
                + settings.url,
                2,
            )
        auth = httpx.BasicAuth(settings.username, password)
    return httpx.Client(base_url=settings.url, auth=auth, headers=headers, timeout=120)


def _saved_password(settings: Settings) -> str | None:
    path = settings.resolved_data_dir / "admin_password"
    return path.read_text().strip() if path.is_file() else None


def _check(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    raise _fail(
        f"{response.request.method} {response.request.url.path}: {response.status_code}: {detail}"
    )


def main() -> None:  # pragma: no cover
    try:
        app()
    except httpx.ConnectError as exc:
        err.print(
            f"[red]error:[/red] cannot reach the Estate API ({exc}); is `estate serve` running? (ESTATE_URL)"
        )
        sys.exit(1)
