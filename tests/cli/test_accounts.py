"""``estate organizations members …``, ``estate users show|update|delete|password|…`` and
``estate audit list`` against a real service: roles, accounts, the audit log."""

from __future__ import annotations

from served import Estate, words


def test_members_give_and_take_roles(estate: Estate) -> None:
    organization = estate.json("organizations", "create", "Lab")["id"]
    user = estate.json("users", "create", "lab-op", "--new-password", "lab-op-password")["id"]
    as_user = ["--username", "lab-op", "--password", "lab-op-password"]
    assert estate(*as_user, "organizations", "show", str(organization)).exit_code == 3

    added = estate.json(
        "organizations", "members", "add", str(organization), str(user), "--role", "operator"
    )
    assert (added["username"], added["role"]) == ("lab-op", "operator")
    assert estate.json(*as_user, "organizations", "show", str(organization))["name"] == "Lab"
    listed = estate.yaml("organizations", "members", "list", str(organization))
    assert [(m["username"], m["role"]) for m in listed["results"]] == [("lab-op", "operator")]
    changed = estate.json(
        "organizations", "members", "set", str(organization), str(user), "--role", "admin"
    )
    assert changed["role"] == "admin"
    assert "lab-op" in estate.ok("organizations", "members", "list", str(organization)).stdout
    bad = estate("organizations", "members", "set", str(organization), str(user), "--role", "boss")
    assert bad.exit_code == 2

    estate.ok("organizations", "members", "remove", str(organization), str(user))
    assert estate(*as_user, "organizations", "show", str(organization)).exit_code == 3
    gone = estate("organizations", "members", "remove", str(organization), str(user))
    assert gone.exit_code == 3


def test_an_administrator_shuts_an_account_out_and_back_in(estate: Estate) -> None:
    user = estate.json("users", "create", "temp", "--new-password", "temp-password")["id"]
    as_user = ["--username", "temp", "--password", "temp-password"]
    assert estate.json("users", "show", str(user))["username"] == "temp"
    token = estate.json(*as_user, "tokens", "create", "--name", "laptop")
    tokens = estate.json("users", "tokens", str(user))
    assert [t["name"] for t in tokens["results"]] == ["laptop"]
    assert token["token"] not in estate.ok("users", "tokens", str(user)).stdout

    assert estate.json("users", "update", str(user), "--inactive")["is_active"] is False
    assert estate(*as_user, "users", "me").exit_code == 4
    assert estate("--token", token["token"], "users", "me").exit_code == 4
    assert estate.json("users", "update", str(user), "--active")["is_active"] is True
    assert estate.json(*as_user, "users", "me")["username"] == "temp"

    estate.ok("users", "set-password", str(user), "--new-password", "reset-password")
    assert estate(*as_user, "users", "me").exit_code == 4
    as_reset = ["--username", "temp", "--password", "reset-password"]
    changed = estate(
        *as_reset,
        "users",
        "password",
        "--current-password",
        "reset-password",
        "--new-password",
        "chosen-password",
    )
    assert changed.exit_code == 0, changed.stderr
    assert estate.json("--username", "temp", "--password", "chosen-password", "users", "me")

    refused = estate("users", "delete", str(user))
    assert refused.exit_code == 2 and "--yes" in words(refused)
    estate.ok("users", "delete", str(user), "--yes")
    assert estate("users", "show", str(user)).exit_code == 3


def test_the_last_administrator_stays_and_the_audit_log_says_who_did_what(
    estate: Estate,
) -> None:
    me = estate.json("users", "me")["id"]
    last = estate("users", "update", str(me), "--no-admin")
    assert last.exit_code == 2
    assert "last active system administrator" in words(last)

    organization = estate.json("organizations", "create", "Audited")["id"]
    entries = estate.json("audit", "list", "--action", "organizations.create", "--all")
    created = [e for e in entries["results"] if e["object_id"] == str(organization)]
    assert [(e["username"], e["status"]) for e in created] == [("admin", 201)]
    table = estate.ok("audit", "list", "--object-type", "organizations", "--limit", "5").stdout
    assert "organizations.create" in table
    assert estate("audit", "list", "--since", "yesterday").exit_code == 2
