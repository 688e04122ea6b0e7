"""``estate repository …`` (remote plugin sources), ``estate plugin install`` (from one of
them) and ``estate plugin index export`` (a static index of a data directory, no service)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from . import local, plugins
from .client import NOT_FOUND, USAGE, Api, api, fail
from .output import Column, Format, confirm, emit, fields, info, page, stdout
from .params import Output, Yes

index_app = typer.Typer(
    help="This installation's plugins as a repository index other ones install from.",
    no_args_is_help=True,
)


def register(root: typer.Typer, epilog: str) -> None:
    index_app.info.epilog = epilog
    plugins.app.add_typer(index_app, name="index")
    plugins.app.command("install")(install)
    plugins.app.command("available")(available)
    repos_app.info.epilog = epilog
    root.add_typer(repos_app, name="repository")


@index_app.command("export")
def export(
    dest: Annotated[Path, typer.Argument(help="Folder to write index.json and archives/ in")],
    keys: Annotated[
        list[str] | None, typer.Argument(help="Only these plugin keys (default: all)")
    ] = None,
) -> None:
    """Write a static index (index.json + archives/) of the data directory's ready plugin
    versions (ESTATE_DATA_DIR), for any file server to host. Needs no running service."""
    try:
        exported = local.export_index(dest, list(keys or []))
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    stdout().print(
        Text(f"{exported.index}: {exported.plugins} plugin(s), {exported.versions} version(s)")
    )
    info(
        "host the folder on any file server and register it: estate repository add NAME URL --kind static"
    )


repos_app = typer.Typer(
    help="Remote plugin repositories: other Estates and static indexes (system administrators).",
    no_args_is_help=True,
)
Repository = Annotated[str, typer.Argument(help="The repository's name or id", metavar="REPO")]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="A file holding the remote Estate's API token ('-': standard input); never "
        "given on the command line, where other users could read it",
        metavar="FILE",
    ),
]
Priority = Annotated[
    int | None,
    typer.Option(help="Lower is preferred when repositories offer the same key", metavar="N"),
]
REPO_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("kind", "kind"),
    ("url", "url"),
    ("priority", "priority"),
    ("enabled", "enabled"),
    ("token", "token_set"),
    ("offered", "offered"),
    ("last sync", "last_sync_at"),
    ("status", "last_sync_status"),
    ("error", "last_error"),
]
OFFERED_COLUMNS: list[Column] = [
    ("key", "key"),
    ("version", "version"),
    ("signed by", "signed_by"),
    ("yanked", lambda v: v["yanked_reason"] if v["yanked"] else ""),
    ("installed", "installed"),
    ("sha256", lambda v: v["sha256"][:12]),
]


def _token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise fail(f"--token-file {path}: {exc.strerror}", USAGE) from None
    if not text.strip():
        raise fail(f"--token-file {path}: empty", USAGE)
    return text.strip()


def _find(client: Api, name: str) -> dict[str, Any]:
    """The repository named (or numbered) ``name``."""
    found: list[dict[str, Any]] = client.get("repositories/", page_size=1000)["results"]
    for repository in found:
        if repository["name"] == name or str(repository["id"]) == name:
            return repository
    names = ", ".join(r["name"] for r in found) or "none; add one with `estate repository add`"
    raise fail(f"no repository {name!r} (registered: {names})", NOT_FOUND)


@repos_app.command("list")
def list_repositories(output: Output = Format.table) -> None:
    """The registered repositories, preferred first, with their last sync."""
    with api() as client:
        found = client.get("repositories/", page_size=1000)
    emit(found, output, lambda p: page(p, REPO_COLUMNS, "repository(ies)"))


@repos_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for it (letters, digits, . _ -)")],
    url: Annotated[str, typer.Argument(help="estate: the service's URL; static: the index's")],
    kind: Annotated[
        str, typer.Option(help="estate (another Estate) or static (index.json)", metavar="KIND")
    ] = "estate",
    token_file: TokenFile = None,
    priority: Priority = None,
    output: Output = Format.table,
) -> None:
    """Register a repository; then `estate repository sync NAME`."""
    body: dict[str, Any] = {"name": name, "kind": kind, "url": url}
    if (token := _token(token_file)) is not None:
        body["token"] = token
    if priority is not None:
        body["priority"] = priority
    with api() as client:
        created = client.post("repositories/", json=body)
    emit(
        created,
        output,
        lambda r: Text(
            f"added {r['name']} (id {r['id']}); next: estate repository sync {r['name']}"
        ),
    )


@repos_app.command("update")
def update(
    repository: Repository,
    url: Annotated[str | None, typer.Option(help="A new URL", metavar="URL")] = None,
    token_file: TokenFile = None,
    no_token: Annotated[bool, typer.Option("--no-token", help="Remove the token")] = False,
    priority: Priority = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    output: Output = Format.table,
) -> None:
    """Change a repository's URL, token, priority or whether it is used."""
    body: dict[str, Any] = {"url": url, "priority": priority, "enabled": enabled}
    body = {k: v for k, v in body.items() if v is not None}
    if no_token:
        body["token"] = None
    elif (token := _token(token_file)) is not None:
        body["token"] = token
    with api() as client:
        found = _find(client, repository)
        changed = client.call("PATCH", f"repositories/{found['id']}/", json=body)
    emit(changed, output, lambda r: fields(r))


@repos_app.command("remove")
def remove(repository: Repository, yes: Yes = False) -> None:
    """Deregister a repository; versions installed from it stay installed."""
    confirm(f"Remove repository {repository}?", yes)
    with api() as client:
        found = _find(client, repository)
        client.call("DELETE", f"repositories/{found['id']}/")
    info(f"removed {found['name']}")


@repos_app.command("sync")
def sync(repository: Repository, output: Output = Format.table) -> None:
    """Fetch the repository's index now (what it offers); its errors are shown and kept."""
    with api() as client:
        found = _find(client, repository)
        answer = client.post(f"repositories/{found['id']}/sync/")
    emit(
        answer, output, lambda a: Text(f"synced {found['name']}: {a['offered']} version(s) offered")
    )


@repos_app.command("plugins")
def offered(
    repository: Repository,
    prerelease: Annotated[bool, typer.Option("--prerelease", help="Also pre-releases")] = False,
    output: Output = Format.table,
) -> None:
    """What a repository offers (as of its last sync), and whether each is installed here."""
    with api() as client:
        found = _find(client, repository)
        answer = client.get(
            f"repositories/{found['id']}/plugins/", prerelease=prerelease, page_size=1000
        )
    emit(answer, output, lambda p: page(p, OFFERED_COLUMNS, "version(s)"))


def install(
    key: Annotated[str, typer.Argument(help="The plugin key, vendor:provider_type", metavar="KEY")],
    version: Annotated[
        str | None,
        typer.Option(help="An exact version or a range (~1.4); default: latest compatible"),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="The repository to install from (its name)", metavar="NAME")
    ] = None,
    output: Output = Format.table,
) -> None:
    """Install a plugin version from a synced repository into the local store."""
    body = {"key": key, "version": version, "source": source}
    with api() as client:
        answer = client.post("provider-plugins/install/", json=body)
    done = "already installed" if answer["outcome"] == "existing" else "installed"
    summary = (
        f"{done} {answer['key']} {answer['version']} from {answer['chosen_source']} "
        f"({answer['reason']}); signature {answer['signature_status']}, trust {answer['trust']}"
    )
    emit(answer, output, lambda _: Text(summary))


AVAILABLE_COLUMNS: list[Column] = [
    ("key", "key"),
    ("version", "version"),
    ("source", "source"),
    ("repository", lambda v: v["repository"] or ""),
    ("installed", "installed"),
    ("yanked", "yanked"),
    ("install takes", lambda v: "this" if v["chosen"] else ""),
    ("why", "reason"),
]


def available(
    key: Annotated[str | None, typer.Option(help="Only this plugin key", metavar="KEY")] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Only this source: managed, local, bundle or remote", metavar="SOURCE"),
    ] = None,
    repository: Annotated[
        str | None, typer.Option(help="Only rows of this repository", metavar="NAME")
    ] = None,
    installed: Annotated[
        bool | None, typer.Option("--installed/--not-installed", help="Only (not) installed")
    ] = None,
    prerelease: Annotated[bool, typer.Option("--prerelease", help="Also pre-releases")] = False,
    output: Output = Format.table,
) -> None:
    """Every version from every source, merged (installed ones and what each enabled
    repository offers), with what `estate plugin install KEY` would take and why."""
    query = {"key": key, "source": source, "repository": repository, "installed": installed}
    wanted = {name: value for name, value in query.items() if value is not None}
    with api() as client:
        answer = client.get(
            "provider-plugins/available/", prerelease=prerelease, page_size=1000, **wanted
        )
    emit(answer, output, lambda p: page(p, AVAILABLE_COLUMNS, "version(s)"))
