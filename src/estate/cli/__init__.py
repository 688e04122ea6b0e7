"""The ``estate`` command: run the service, and drive it over its REST API.

One module per noun; ``client`` (HTTP, credentials, exit codes) and ``output``
(table, JSON, YAML) serve them all. Only ``serve`` and ``local`` import the
service's own layers, lazily, so the rest stays a plain API client.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import (
    accounts,
    actions,
    admin,
    bundles,
    catalog,
    conformance,
    events,
    help,
    login,
    plugins,
    providers,
    repositories,
    resources,
    runs,
    serve,
    signing,
)
from .client import Options, remember

__all__ = ["app", "main"]

EPILOG = (
    "Exit codes: 0 success; 1 the operation ran and failed (a run not completed, a failed "
    "connection test, a server error); 2 bad usage or input the API refused; 3 not found; "
    "4 not authenticated or not allowed; 5 the service cannot be reached. See docs/cli.md."
)

help.install()
app = typer.Typer(
    help="Estate: one inventory and control plane for a whole estate.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def root(
    url: Annotated[
        str | None,
        typer.Option(
            help="The API (ESTATE_URL; default: the saved login, then serve's own)", metavar="URL"
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="An API token (ESTATE_TOKEN)", metavar="TOKEN")
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(help="Login for --password (ESTATE_USERNAME; default admin)", metavar="NAME"),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (ESTATE_PASSWORD; default: .estate/admin_password)", metavar="PASSWORD"
        ),
    ] = None,
) -> None:
    """Estate: one inventory and control plane for a whole estate."""
    remember(Options(url=url, token=token, username=username, password=password))


for module in (
    plugins,
    signing,
    repositories,
    bundles,
    catalog,
    providers,
    runs,
    resources,
    actions,
    events,
    admin,
    accounts,
    login,
    serve,
    conformance,
):
    module.register(app, EPILOG)


def main() -> None:  # pragma: no cover - the console script
    app()
