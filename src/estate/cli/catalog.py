"""``estate catalog …``: the plugins, their profiles and real conformance results."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .client import api
from .output import Column, Format, emit, fields, page
from .params import Output

app = typer.Typer(help="The plugin catalog: list, show.", no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="A plugin key, e.g. vmware:vcenter", metavar="KEY")]
WORDS = {"pass": "pass", "partial": "partial", "fail": "FAIL", "not_tested": "not tested"}


def _conformance(entry: dict[str, Any]) -> str:
    found = entry["conformance"]
    return ", ".join(f"{p} {WORDS.get(r['status'], r['status'])}" for p, r in found.items()) or "-"


COLUMNS: list[Column] = [
    ("key", "key"),
    ("version", "version"),
    ("maturity", lambda e: e["maturity"] or ""),
    ("profiles / conformance", _conformance),
    ("actions", lambda e: "?" if e["actions"] is None else str(len(e["actions"]))),
    ("name", "name"),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="catalog")


@app.command("list")
def list_catalog(output: Output = Format.table) -> None:
    """Every plugin: version, maturity, claimed profiles with their conformance status."""
    with api() as client:
        entries = client.page("catalog/", {}, limit=1000, every=True)
    emit(entries, output, lambda found: page(found, COLUMNS, "plugin(s)"))


@app.command("show")
def show(key: Key, output: Output = Format.table) -> None:
    """One plugin's catalog entry: description, maintainers, actions, per-profile results."""
    with api() as client:
        entry = client.get(f"catalog/{key}/")
    emit(entry, output, fields)
