"""``estate plugin …``: check, package and upload plugins; list, show, test, delete them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.text import Text

from . import local
from .client import FAILED, USAGE, api, fail
from .output import Column, Format, confirm, emit, error, fields, info, rows, stdout
from .params import Output, Yes

app = typer.Typer(help="Check, package, upload and manage provider plugins.", no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="The plugin key, vendor:provider_type", metavar="KEY")]
Folder = Annotated[Path, typer.Argument(help="The plugin folder", metavar="FOLDER")]

LIST_COLUMNS: list[Column] = [
    ("key", "key"),
    ("version", "version"),
    ("source", "source"),
    ("state", "state"),
    ("trust", "trust"),
    ("providers", "provider_count"),
    ("resource types", lambda p: ", ".join(p["supported_resource_types"])),
]
VERSION_COLUMNS: list[Column] = [
    ("version", "version"),
    ("state", "state"),
    ("active", "is_active"),
    ("source", "source"),
    ("sha256", lambda v: v["sha256"][:12]),
    ("signature", "signature_status"),
    ("trust", "trust"),
    ("error", "error"),
]
SHOWN = ["key", "display_name", "description", "version", "sha256", "class_path", "source"]
SHOWN += ["state", "error", "provider_count", "supported_resource_types", "created_at"]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="plugin")


@app.command("validate")
def validate(folder: Folder = Path()) -> None:
    """Check a plugin folder as the service would on upload, without uploading."""
    if not folder.is_dir():
        raise fail(f"{folder}: not a folder")
    try:
        checked = local.validate(folder)
    except local.LocalError as exc:
        for problem in exc.problems:
            error(problem)
        raise typer.Exit(FAILED) from None
    types = ", ".join(checked.types)
    stdout().print(Text(f"✓ {checked.key} {checked.version}: {checked.class_path}, types {types}"))


@app.command("package")
def package(
    folder: Folder = Path(),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The archive to write", metavar="FILE"),
    ] = None,
) -> None:
    """Make the tar.gz the upload endpoint takes (never including an archive itself)."""
    try:
        target = output or Path(local.archive_name(folder))
        data = local.pack(folder, target=target)
    except local.LocalError as exc:
        raise fail(str(exc)) from None
    target.write_bytes(data)
    stdout().print(Text(f"wrote {target} ({len(data)} bytes)"))


@app.command("upload")
def upload(
    path: Annotated[Path, typer.Argument(help="Plugin folder or archive", metavar="PATH")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a version that failed to prepare (installed versions are immutable)",
            metavar="",
        ),
    ] = False,
    output: Output = Format.table,
) -> None:
    """Upload a plugin folder or archive; the next job uses it."""
    try:
        data = local.pack(path)
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    with api() as client:
        files = {"plugin": ("plugin.tar.gz", data, "application/gzip")}
        answer = client.post("provider-plugins/upload/", params={"force": force}, files=files)
    types = ", ".join(answer["supported_resource_types"])
    done = "already installed" if answer.get("outcome") == "existing" else "installed"
    summary = f"{done} {answer['key']} {answer['version']} ({answer['class_path']}); types: {types}"
    emit(answer, output, lambda _: Text(summary))


@app.command("list")
def list_plugins(output: Output = Format.table) -> None:
    """The installed plugins, with the active version of each."""
    with api() as client:
        # With page_size the list is a page; without, the UIS's plain array.
        page = client.get("provider-plugins/", page_size=1000)
    emit(page, output, lambda p: rows(p["results"], LIST_COLUMNS, title=f"{p['count']} plugin(s)"))


@app.command("show")
def show(key: Key, output: Output = Format.table) -> None:
    """One plugin: manifest facts, dependencies and every version."""
    with api() as client:
        plugin = client.get(f"provider-plugins/{key}/")
    emit(plugin, output, _detail)


def _detail(plugin: dict[str, Any]) -> RenderableType:
    versions = rows(
        plugin["versions"],
        VERSION_COLUMNS,
        title="versions",
    )
    depends = {kind: ", ".join(items) for kind, items in plugin["dependencies"].items() if items}
    parts: list[RenderableType] = [fields(plugin, SHOWN), versions]
    if depends:
        parts.append(fields(depends))
    return Group(*parts)


@app.command("delete")
def delete(
    key: Key,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even while providers use it", metavar="")
    ] = False,
    yes: Yes = False,
) -> None:
    """Remove every version of a plugin."""
    confirm(f"Delete plugin {key} and all its versions?", yes)
    with api() as client:
        client.call("DELETE", f"provider-plugins/{key}/", params={"force": force})
    info(f"deleted plugin {key}")


@app.command("test")
def test(key: Key, output: Output = Format.table) -> None:
    """Test the connection of every provider using a plugin; exit 1 if any fails."""
    with api() as client:
        answer = client.post(f"provider-plugins/{key}/test/")
    columns: list[Column] = [
        ("provider", "provider"),
        ("name", "name"),
        ("ok", "ok"),
        ("message", "message"),
    ]
    emit(answer, output, lambda a: rows(a["results"], columns, title=f"{a['key']}"))
    if not all(result["ok"] for result in answer["results"]):
        raise typer.Exit(FAILED)


@app.command("refresh")
def refresh(output: Output = Format.table) -> None:
    """Re-scan the built-in plugins and remove unreferenced version folders."""
    with api() as client:
        answer = client.post("provider-plugins/refresh/")
    emit(answer, output, lambda a: fields({k: v or "" for k, v in a.items()}))


@app.command("processes")
def processes(output: Output = Format.table) -> None:
    """The long-lived plugin processes: state, pid, restarts, health, last error."""
    with api() as client:
        page = client.get("plugin-processes/")
    columns: list[Column] = [
        ("slot", "slot"),
        ("plugin", "plugin_key"),
        ("state", "state"),
        ("pid", "pid"),
    ]
    columns += [("restarts", "restarts"), ("health ms", _health), ("last error", "last_error")]
    if output is Format.table and not page["results"]:
        info("no plugin process is up; one starts with a provider's connection test")
    emit(page, output, lambda p: rows(p["results"], columns) if p["results"] else None)


def _health(process: dict[str, Any]) -> str:
    value = process["health_ms"]
    return f"{value:.2f}" if value is not None else "-"


Version = Annotated[
    str, typer.Argument(help="A version of the plugin, such as 1.4.2", metavar="VERSION")
]
VERSIONS_COLUMNS: list[Column] = [
    ("version", "version"),
    ("state", "state"),
    ("source", "source"),
    ("pre", lambda v: "yes" if v["prerelease"] else ""),
    ("yanked", lambda v: v["yanked_reason"] if v["yanked"] else ""),
    ("compatible", lambda v: "yes" if v["compatibility"]["usable"] else "no"),
    ("used by", lambda v: ", ".join(map(str, v["used_by"]))),
    ("sha256", lambda v: v["sha256"][:12]),
]


@app.command("versions")
def versions(key: Key, output: Output = Format.table) -> None:
    """Every stored version of a plugin, highest first: yanked, compatible, used by."""
    with api() as client:
        found = client.get(f"provider-plugins/{key}/versions/")
    emit(found, output, lambda vs: rows(vs, VERSIONS_COLUMNS, title=key))


@app.command("yank")
def yank(
    key: Key,
    version: Version,
    reason: Annotated[str, typer.Option("--reason", help="Why (required)", metavar="TEXT")],
    output: Output = Format.table,
) -> None:
    """Yank a version: no new pin or range chooses it; exact pins keep it, warned."""
    with api() as client:
        answer = client.post(
            f"provider-plugins/{key}/versions/{version}/yank/", json={"reason": reason}
        )
    emit(answer, output, lambda a: Text(f"yanked {key} {a['version']}: {a['yanked_reason']}"))


@app.command("unyank")
def unyank(key: Key, version: Version, output: Output = Format.table) -> None:
    """Take a yank back."""
    with api() as client:
        answer = client.post(f"provider-plugins/{key}/versions/{version}/unyank/")
    emit(answer, output, lambda a: Text(f"unyanked {key} {a['version']}"))


@app.command("delete-version")
def delete_version(key: Key, version: Version, yes: Yes = False) -> None:
    """Delete one version (refused while a provider uses it)."""
    confirm(f"Delete {key} {version}?", yes)
    with api() as client:
        client.call("DELETE", f"provider-plugins/{key}/versions/{version}/")
    info(f"deleted {key} {version}")
