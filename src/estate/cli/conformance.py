"""``estate conformance run``: the conformance suite on a plugin, locally, without the
service; ``estate conformance submit``: the same through the service against one of its
providers, its report stored for the catalog."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import local
from .client import FAILED, OK, USAGE, Api, api, fail
from .output import Format, emit, stderr, stdout
from .params import Output

if TYPE_CHECKING:
    from ..conformance import CheckResult

app = typer.Typer(help="Check that a plugin does what its profiles promise.", no_args_is_help=True)

MARKS = {
    "pass": ("✓", "green"),
    "fail": ("✗", "red"),
    "error": ("!", "red"),
    "skip": ("-", "yellow"),
}
BAD_CREDENTIALS = "bad_credentials"


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    root.add_typer(app, name="conformance")


@app.command("run")
def run(
    plugin: Annotated[
        str,
        typer.Option(
            help="A built-in plugin's key (namespace:name) or a plugin folder", metavar="KEY|PATH"
        ),
    ],
    provider_config: Annotated[
        Path,
        typer.Option(
            help="YAML or JSON: the connection parameters (endpoint, username, password, …), "
            "optionally bad_credentials: {…} to use as wrong ones",
            metavar="FILE",
        ),
    ],
    profile: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only this profile (repeat; default: every one it claims)", metavar="P"
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here", metavar="FILE")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here", metavar="FILE")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write Markdown here", metavar="FILE")
    ] = None,
    python: Annotated[
        Path | None,
        typer.Option(
            help="The interpreter of the plugin's environment (default: this one)", metavar="PATH"
        ),
    ] = None,
) -> None:
    """Run the conformance suite against a live platform or emulator; exit 0 when every
    check passed (or skipped), 1 when one failed, 2 on bad usage."""
    from ..conformance import run_suite

    try:
        folder = local.plugin_folder(plugin)
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    config, bad = _read_config(provider_config)
    try:
        report = run_suite(
            folder, config, profiles=profile, python=python, progress=_show, bad_config=bad
        )
    except ValueError as exc:
        raise fail(str(exc), USAGE) from None
    data = report.to_json()
    for path, text in ((junit, report.to_junit), (markdown, report.to_markdown)):
        if path is not None:
            path.write_text(text(), encoding="utf-8")
    if json_file is not None:
        import json

        json_file.write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    stdout().print(_summary(data))
    raise typer.Exit(OK if report.passed else FAILED)


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{path}: cannot read the provider config ({exc.strerror})", USAGE) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: not YAML or JSON ({str(exc).splitlines()[0]})", USAGE) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise fail(
            f"{path}: expected a mapping of connection parameters, not a {type(data).__name__}",
            USAGE,
        )
    bad = data.pop(BAD_CREDENTIALS, None)
    if bad is not None and not isinstance(bad, dict):
        raise fail(f"{path}: {BAD_CREDENTIALS}: expected a mapping of connection parameters", USAGE)
    return data, bad


def _show(result: CheckResult) -> None:
    mark, colour = MARKS[result.status]
    line = Text(f"{mark} ", style=colour)
    line.append(f"{result.name} ", style="bold")
    line.append(f"{result.duration_s:.2f}s ", style="dim")
    line.append(result.message)
    stderr().print(line)


def _summary(data: dict[str, Any]) -> Table:
    plugin = data["plugin"]
    table = Table(
        title=f"{plugin['key']} {plugin['version']}", caption=f"against {data['platform']}"
    )
    for column in ("profile", "status", "passed", "failed", "skipped"):
        table.add_column(column)
    for name, counts in data["profiles"].items():
        colour = {"pass": "green", "partial": "yellow", "fail": "red"}.get(counts["status"], "dim")
        table.add_row(
            name,
            Text(counts["status"], style=colour),
            *(str(counts[k]) for k in ("passed", "failed", "skipped")),
        )
    return table


RUN_ENDED = ("completed", "failed")


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
            if run["status"] in RUN_ENDED:
                return run
            time.sleep(0.5)


def _submitted(run: dict[str, Any]) -> Text:
    line = Text(f"conformance run {run['id']} of {run['plugin_key']} {run['plugin_version']}: ")
    line.append(run["status"], "green" if run["status"] == "completed" else "red")
    for profile, status in run["profile_status"].items():
        line.append(f"\n  {profile}: ")
        line.append(status, "green" if status == "pass" else "red")
    if run.get("error"):
        line.append(f"\n  {run['error']}")
    return line


@app.command("submit")
def submit(
    key: Annotated[str, typer.Argument(help="A plugin key, e.g. vmware:vcenter", metavar="KEY")],
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
    emit(result, output, _submitted)
    if wait and (
        result["status"] != "completed"
        or any(s != "pass" for s in result["profile_status"].values())
    ):
        raise typer.Exit(FAILED)
