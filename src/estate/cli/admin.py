"""``estate organizations|users|tokens …``: who owns what, who may log in, and how."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from .client import api
from .output import Column, Format, emit, fields, info, page
from .params import All, Limit, Output, id_argument

organizations = typer.Typer(help="Organizations own providers.", no_args_is_help=True)
users = typer.Typer(help="Users (administrators only, but `me`).", no_args_is_help=True)
tokens = typer.Typer(help="Your API tokens.", no_args_is_help=True)

ORGANIZATION_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
]
USER_COLUMNS: list[Column] = [("id", "id"), ("username", "username"), ("admin", "is_admin")]
USER_COLUMNS += [("active", "is_active"), ("organization", "organization")]
TOKEN_COLUMNS: list[Column] = [("id", "id"), ("name", "name"), ("prefix", "prefix")]
TOKEN_COLUMNS += [("created", "created_at"), ("last used", "last_used_at")]
TOKEN_COLUMNS += [("expires", "expires_at")]


def register(root: typer.Typer, epilog: str) -> None:
    for name, group in (("organizations", organizations), ("users", users), ("tokens", tokens)):
        group.info.epilog = epilog
        root.add_typer(group, name=name)


@organizations.command("list")
def list_organizations(
    limit: Limit = 100, every: All = False, output: Output = Format.table
) -> None:
    """The organizations; id 1 is the default."""
    with api() as client:
        data = client.page("organizations/", {}, limit=limit, every=every)
    emit(data, output, lambda d: page(d, ORGANIZATION_COLUMNS, "organization(s)"))


@organizations.command("show")
def show_organization(
    organization_id: Annotated[int, id_argument("organization")], output: Output = Format.table
) -> None:
    """One organization."""
    with api() as client:
        data = client.get(f"organizations/{organization_id}/")
    emit(data, output, fields)


@organizations.command("create")
def create_organization(
    name: Annotated[str, typer.Argument(help="Its name", metavar="NAME")],
    description: Annotated[str, typer.Option(help="What it is", metavar="TEXT")] = "",
    output: Output = Format.table,
) -> None:
    """Create an organization (administrators only)."""
    with api() as client:
        data = client.post("organizations/", json={"name": name, "description": description})
    emit(data, output, lambda o: Text(f"created organization {o['id']} {o['name']!r}"))


@users.command("list")
def list_users(limit: Limit = 100, every: All = False, output: Output = Format.table) -> None:
    """Every user."""
    with api() as client:
        data = client.page("users/", {}, limit=limit, every=every)
    emit(data, output, lambda d: page(d, USER_COLUMNS, "user(s)"))


@users.command("me")
def me(output: Output = Format.table) -> None:
    """Who you are logged in as."""
    with api() as client:
        data = client.get("users/me/")
    emit(data, output, fields)


@users.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="The login name", metavar="USERNAME")],
    new_password: Annotated[
        str,
        typer.Option(
            "--new-password",
            help="Their password (asked for when not given)",
            metavar="PASSWORD",
            prompt="Password for the new user",
            hide_input=True,
            confirmation_prompt=True,
        ),
    ],
    admin: Annotated[
        bool, typer.Option("--admin", help="Make them an administrator", metavar="")
    ] = False,
    organization: Annotated[
        int | None, typer.Option(help="Their organization", metavar="ID")
    ] = None,
    output: Output = Format.table,
) -> None:
    """Create a user (administrators only)."""
    body = {"username": username, "password": new_password, "is_admin": admin}
    body["organization"] = organization
    with api() as client:
        data = client.post("users/", json=body)
    emit(data, output, lambda u: Text(f"created user {u['id']} {u['username']!r}"))


@tokens.command("list")
def list_tokens(output: Output = Format.table) -> None:
    """Your API tokens (their prefix only: a token is shown once, when created)."""
    with api() as client:
        data = client.get("tokens/")
    emit(data, output, lambda d: page(d, TOKEN_COLUMNS, "token(s)"))


@tokens.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="What it is for", metavar="NAME")] = "",
    expires_in_days: Annotated[
        int | None,
        typer.Option(help="Days it lives (default: the service's, 30)", metavar="DAYS"),
    ] = None,
    output: Output = Format.table,
) -> None:
    """Create an API token; it is printed once, now."""
    body: dict[str, object] = {"name": name}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    with api() as client:
        data = client.post("tokens/", json=body)
    emit(data, output, lambda t: Text(t["token"]))
    info(f"token {data['id']} created; it is shown this once, keep it where secrets go")


@tokens.command("delete")
def delete_token(token_id: Annotated[int, id_argument("token")]) -> None:
    """Revoke one of your tokens."""
    with api() as client:
        client.call("DELETE", f"tokens/{token_id}/")
    info(f"token {token_id} revoked")
