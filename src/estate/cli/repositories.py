"""``estate repository …`` (remote plugin sources), ``estate plugin install`` (from one of
them) and ``estate plugin index export`` (a static index of a data directory, no service)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from . import local, plugins
from .client import USAGE, fail
from .output import info, stdout

index_app = typer.Typer(
    help="This installation's plugins as a repository index other ones install from.",
    no_args_is_help=True,
)


def register(root: typer.Typer, epilog: str) -> None:
    index_app.info.epilog = epilog
    plugins.app.add_typer(index_app, name="index")


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
