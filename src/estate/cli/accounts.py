"""``estate organizations members …``, ``estate users show|update|delete|password …``,
``estate audit list``: roles, accounts and the record of who did what."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from .admin import TOKEN_COLUMNS, organizations, users
from .client import api
from .output import Column, Format, confirm, emit, fields, info, page
from .params import All, Limit, Output, Yes, id_argument

audit = typer.Typer(help="The audit log (system administrators).", no_args_is_help=True)
members = typer.Typer(
    help="An organization's members and their roles (its admins).", no_args_is_help=True
)
organizations.add_typer(members, name="members")

MEMBER_COLUMNS: list[Column] = [("user", "user"), ("username", "username"), ("role", "role")]
AUDIT_COLUMNS: list[Column] = [("id", "id"), ("when", "created_at"), ("user", "username")]
AUDIT_COLUMNS += [("action", "action"), ("object", "object_type"), ("id", "object_id")]
AUDIT_COLUMNS += [("status", "status"), ("client", "client")]

Role = Annotated[str, typer.Option(help="viewer, operator or admin", metavar="ROLE")]
NewPassword = Annotated[
    str,
    typer.Option(
        "--new-password",
        help="The new password (asked for when not given)",
        metavar="PASSWORD",
        prompt="New password",
        hide_input=True,
        confirmation_prompt=True,
    ),
]


def register(root: typer.Typer, epilog: str) -> None:
    audit.info.epilog = members.info.epilog = epilog
    root.add_typer(audit, name="audit")


# -- members -----------------------------------------------------------------------


@members.command("list")
def list_members(
    organization_id: Annotated[int, id_argument("organization")], output: Output = Format.table
) -> None:
    """The members of an organization and their roles."""
    with api() as client:
        data = client.get(f"organizations/{organization_id}/members/")
    emit(data, output, lambda d: page(d, MEMBER_COLUMNS, "member(s)"))


@members.command("add")
def add_member(
    organization_id: Annotated[int, id_argument("organization")],
    user_id: Annotated[int, id_argument("user")],
    role: Role = "viewer",
    output: Output = Format.table,
) -> None:
    """Give a user a role in an organization."""
    with api() as client:
        data = client.post(
            f"organizations/{organization_id}/members/", json={"user": user_id, "role": role}
        )
    emit(data, output, lambda m: Text(f"{m['username']} is {m['role']} of {m['organization']}"))


@members.command("set")
def set_role(
    organization_id: Annotated[int, id_argument("organization")],
    user_id: Annotated[int, id_argument("user")],
    role: Role,
    output: Output = Format.table,
) -> None:
    """Change a member's role."""
    path = f"organizations/{organization_id}/members/{user_id}/"
    with api() as client:
        data = client.call("PATCH", path, json={"role": role})
    emit(data, output, lambda m: Text(f"{m['username']} is {m['role']} of {m['organization']}"))


@members.command("remove")
def remove_member(
    organization_id: Annotated[int, id_argument("organization")],
    user_id: Annotated[int, id_argument("user")],
) -> None:
    """Take a user's role in an organization away."""
    with api() as client:
        client.call("DELETE", f"organizations/{organization_id}/members/{user_id}/")
    info(f"user {user_id} is no longer a member of organization {organization_id}")


# -- users -------------------------------------------------------------------------


@users.command("show")
def show_user(user_id: Annotated[int, id_argument("user")], output: Output = Format.table) -> None:
    """One user (system administrators; others only themselves)."""
    with api() as client:
        data = client.get(f"users/{user_id}/")
    emit(data, output, fields)


@users.command("update")
def update_user(
    user_id: Annotated[int, id_argument("user")],
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Let them log in, or shut them out", metavar=""),
    ] = None,
    admin: Annotated[
        bool | None,
        typer.Option("--admin/--no-admin", help="Make or unmake a system administrator"),
    ] = None,
    output: Output = Format.table,
) -> None:
    """Deactivate, reactivate, promote or demote a user (system administrators)."""
    body = {k: v for k, v in {"is_active": active, "is_admin": admin}.items() if v is not None}
    with api() as client:
        data = client.call("PATCH", f"users/{user_id}/", json=body)
    emit(data, output, fields)


@users.command("delete")
def delete_user(user_id: Annotated[int, id_argument("user")], yes: Yes = False) -> None:
    """Delete a user and their tokens (system administrators); their audit entries stay."""
    confirm(f"Delete user {user_id} and their tokens?", yes)
    with api() as client:
        client.call("DELETE", f"users/{user_id}/")
    info(f"user {user_id} deleted")


@users.command("set-password")
def set_password(user_id: Annotated[int, id_argument("user")], new_password: NewPassword) -> None:
    """Set a user's password (system administrators); the old one stops working at once."""
    with api() as client:
        client.post(f"users/{user_id}/password/", json={"password": new_password})
    info(f"password of user {user_id} set")


@users.command("password")
def change_password(
    current_password: Annotated[
        str,
        typer.Option(
            "--current-password",
            help="Your password now (asked for when not given)",
            metavar="PASSWORD",
            prompt="Current password",
            hide_input=True,
        ),
    ],
    new_password: NewPassword,
) -> None:
    """Change your own password."""
    body = {"current_password": current_password, "new_password": new_password}
    with api() as client:
        client.post("users/me/password/", json=body)
    info("your password is changed; log in with the new one from now on")


@users.command("tokens")
def user_tokens(
    user_id: Annotated[int, id_argument("user")], output: Output = Format.table
) -> None:
    """A user's API tokens, never their secrets (system administrators)."""
    with api() as client:
        data = client.get(f"users/{user_id}/tokens/")
    emit(data, output, lambda d: page(d, TOKEN_COLUMNS, "token(s)"))


# -- audit -------------------------------------------------------------------------


@audit.command("list")
def list_audit(
    user: Annotated[str | None, typer.Option(help="A user name or id", metavar="USER")] = None,
    action: Annotated[
        str | None, typer.Option(help="e.g. providers.update", metavar="ACTION")
    ] = None,
    object_type: Annotated[str | None, typer.Option(help="e.g. providers", metavar="TYPE")] = None,
    object_id: Annotated[str | None, typer.Option(help="Its id or key", metavar="ID")] = None,
    since: Annotated[
        str | None, typer.Option(help="ISO 8601 time: entries at or after it", metavar="TIME")
    ] = None,
    limit: Limit = 100,
    every: All = False,
    output: Output = Format.table,
) -> None:
    """Who did what to which object, when, from where; newest first."""
    params = {
        "user": user,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "since": since,
    }
    with api() as client:
        data = client.page("audit/", params, limit=limit, every=every)
    emit(data, output, lambda d: page(d, AUDIT_COLUMNS, "entr(ies)"))
