"""``estate catalog …``: the plugins, their profiles and real conformance results;
running the suite through the service against a provider."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from .client import FAILED, Api, api
from .output import Column, Format, emit, fields, page, stderr
from .params import Output

app = typer.Typer(help="The plugin catalog: list, show, test.", no_args_is_help=True)

Key = Annotated[str, typer.Argument(help="A plugin key, e.g. vmware:vcenter", metavar="KEY")]
FINISHED = ("completed", "failed")
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


def _follow(client: Api, run_id: int, total: int | None) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    shown = sys.stderr.isatty()
    with Progress(*columns, console=stderr(), transient=True, disable=not shown) as progress:
        task = progress.add_task("pending", total=total)
        while True:
            run: dict[str, Any] = client.get(f"conformance-runs/{run_id}/")
            failed = f", {run['checks_failed']} failed" if run["checks_failed"] else ""
            progress.update(
                task, completed=run["checks_done"], description=f"{run['status']}{failed}"
            )
            if run["status"] in FINISHED:
                return run
            time.sleep(0.5)


def _summary(run: dict[str, Any]) -> Text:
    line = Text(f"conformance run {run['id']} of {run['plugin_key']} {run['plugin_version']}: ")
    line.append(run["status"], "green" if run["status"] == "completed" else "red")
    for profile, status in run["profile_status"].items():
        line.append(f"\n  {profile}: ")
        line.append(status, "green" if status == "pass" else "red")
    if run.get("error"):
        line.append(f"\n  {run['error']}")
    return line


@app.command("test")
def test(
    key: Key,
    provider: Annotated[
        int, typer.Option("--provider", help="The provider to run against", metavar="ID")
    ],
    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", help="A profile to check (default: all claimed); repeat"),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for its end", metavar="")] = False,
    output: Output = Format.table,
) -> None:
    """Run the conformance suite through the service against a provider (system admin).

    It acts on the provider's platform: use a lab or an emulator. The report is stored
    against the plugin version and the catalog shows it. With --wait, exit 1 unless
    every profile tested passed.
    """
    body: dict[str, Any] = {"provider": provider}
    if profile:
        body["profiles"] = profile
    with api() as client:
        started = client.post(f"provider-plugins/{key}/conformance/", json=body)
        result = _follow(client, started["id"], None) if wait else started
    emit(result, output, _summary)
    if wait and (
        result["status"] != "completed"
        or any(s != "pass" for s in result["profile_status"].values())
    ):
        raise typer.Exit(FAILED)
