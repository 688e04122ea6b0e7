"""``estate plugin bundle export|import``: plugins, their wheels and keys for an air-gapped site.

Both work on a data directory (``ESTATE_DATA_DIR``, ``ESTATE_DATABASE_URL``), not
through the API: export on the connected host, carry the file, import where nothing
reaches the network (docs/repository.md, "Air-gapped site, step by step").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import local, plugins
from .client import USAGE, fail
from .output import Column, Format, emit, error, info, rows, stderr, stdout, warn
from .params import Output

app = typer.Typer(
    help="Carry plugins, their wheels and their keys to a site without network.",
    no_args_is_help=True,
)

RESULT_COLUMNS: list[Column] = [
    ("plugin", "key"),
    ("version", "version"),
    ("outcome", "outcome"),
    ("detail", "detail"),
]


def register(root: typer.Typer, epilog: str) -> None:
    app.info.epilog = epilog
    plugins.app.add_typer(app, name="bundle")


@contextmanager
def _progress() -> Iterator[Any]:
    """A spinner line on stderr on a terminal; the step callback updates it."""
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
    shown = sys.stderr.isatty()
    with Progress(*columns, console=stderr(), transient=True, disable=not shown) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda text: progress.update(task, description=text)


@app.command("export")
def export(
    wanted: Annotated[
        list[str],
        typer.Argument(
            help="KEY (its latest compatible version) or KEY@RANGE (1.2.0, ~1.2, '>=1,<2')",
            metavar="KEY[@RANGE]...",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The bundle to write (.tar)", metavar="FILE")
    ],
    find_links: Annotated[
        list[str] | None,
        typer.Option(
            "--find-links",
            help="A folder or URL of wheels the requirements may come from; repeatable",
            metavar="DIR|URL",
        ),
    ] = None,
    index_url: Annotated[
        str | None,
        typer.Option(help="The package index (default: pip's configuration)", metavar="URL"),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="A private key (PEM, `estate plugin keygen`) to sign the bundle's SHA256SUMS "
            "with, so its wheels are vouched for too",
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Write one bundle: the chosen versions, a wheel of every requirement, their keys."""
    with _progress() as step:
        try:
            done = local.export_bundle(
                wanted,
                output,
                find_links=find_links or [],
                index_url=index_url,
                key=key,
                step=step,
            )
        except local.LocalError as exc:
            for problem in exc.problems:
                error(problem)
            raise typer.Exit(USAGE) from None
    answer = {
        "bundle": str(output),
        "size": done.size,
        "sha256": done.sha256,
        "versions": [{"key": k, "version": v, "trust": t} for k, v, t in done.versions],
        "wheels": done.wheels,
        "keys": done.keys,
    }
    stdout().print(_exported(answer))
    for key, version, trust in done.versions:
        if trust == "unsigned":
            warn(f"{key} {version} is unsigned: an import refuses it unless --allow-unsigned")


def _exported(answer: dict[str, Any]) -> Any:
    columns: list[Column] = [("plugin", "key"), ("version", "version"), ("trust", "trust")]
    title = (
        f"{answer['bundle']}: {answer['size']} bytes, {len(answer['wheels'])} wheel(s), "
        f"{len(answer['keys'])} key(s), sha256 {answer['sha256']}"
    )
    return rows(answer["versions"], columns, title=title)


@app.command("import")
def import_(
    bundle: Annotated[Path, typer.Argument(help="The bundle (.tar)", metavar="FILE")],
    trust_keys: Annotated[
        bool,
        typer.Option(
            "--trust-keys",
            help="Import the bundle's public keys into the keyring first (else only keys "
            "already imported with `estate signing-key import` are trusted)",
        ),
    ] = False,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned",
            help="Install unsigned plugins of the bundle, with a warning (refused by default)",
        ),
    ] = False,
    fmt: Output = Format.table,
) -> None:
    """Check a bundle against its SHA256SUMS, then install its wheels and plugins offline."""
    with _progress() as step:
        try:
            done = local.import_bundle(
                bundle, trust_keys=trust_keys, allow_unsigned=allow_unsigned, step=step
            )
        except local.LocalError as exc:
            for problem in exc.problems:
                error(problem)
            raise typer.Exit(USAGE) from None
    info(f"{bundle}: sha256 {done.sha256}")
    if done.signed_by is None:
        warn(
            "the bundle is not signed (export --key): its wheels are checked against "
            "SHA256SUMS, which guards against damage, not against a changed bundle"
        )
    else:
        info(f"SHA256SUMS signed by key {done.signed_by}: valid")
    for note in done.keys:
        info(note)
    if done.untrusted_keys:
        info(
            f"{done.untrusted_keys} public key(s) in the bundle were not imported: pass "
            "--trust-keys, or import them with `estate signing-key import`"
        )
    info(f"{done.new_wheels} new wheel(s) in the wheelhouse")
    results = [vars(result) for result in done.results]
    emit(results, fmt, lambda items: rows(items, RESULT_COLUMNS, title=str(bundle)))
    if any(result.outcome == "refused" for result in done.results):
        raise fail("some plugins of the bundle were refused (see above)", USAGE)
    info("a running service runs the new versions from its next job; nothing restarts")
