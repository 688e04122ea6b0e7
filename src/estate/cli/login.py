"""``estate login`` / ``estate logout``: keep an API token instead of a password."""

from __future__ import annotations

import socket
import sys
from typing import Annotated

import typer

from . import credentials
from .client import Api, Target, options, resolve
from .output import info


def register(root: typer.Typer, epilog: str) -> None:
    root.command("login", epilog=epilog)(login)
    root.command("logout", epilog=epilog)(logout)


def login(
    name: Annotated[str | None, typer.Option(help="The token's name", metavar="NAME")] = None,
) -> None:
    """Create an API token with your password and save it for the next commands.

    The password comes from --password, ESTATE_PASSWORD, the data directory's
    admin_password, or is asked for at a terminal.
    """
    given = options()
    env = credentials.environment()
    has_secret = given.password or given.token or env.password or env.token
    if not has_secret and credentials.admin_password() is None and sys.stdin.isatty():
        given.password = typer.prompt("Password", hide_input=True, err=True)
    target = resolve(given, saved=False)
    with Api(target) as client:
        me = client.get("users/me/")
        token = client.post(
            "tokens/", json={"name": name or f"estate login on {socket.gethostname()}"}
        )
    saved = credentials.Login(target.url, token["token"], token["id"], me["username"])
    path = credentials.save_login(saved)
    info(
        f"logged in to {credentials.masked(target.url)} as {me['username']}; token {token['id']} saved in {path}"
    )


def logout() -> None:
    """Revoke the saved login's token and forget it."""
    saved = credentials.load_login()
    if saved is None:
        info(f"not logged in ({credentials.login_path()} does not exist)")
        return
    bearer = {"Authorization": f"Bearer {saved.token}"}
    with Api(Target(saved.url, None, bearer, "the saved login")) as client:
        # A token revoked already (401) or gone (404) is as good as revoked now.
        client.call("DELETE", f"tokens/{saved.token_id}/", tolerate=(401, 404))
    credentials.login_path().unlink()
    info(f"logged out of {credentials.masked(saved.url)}; token {saved.token_id} revoked")
