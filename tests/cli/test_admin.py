"""``estate organizations|users|tokens …`` against a real service, and who may do what."""

from __future__ import annotations

import pytest

from served import Estate, words


def test_organizations(estate: Estate) -> None:
    created = estate.json("organizations", "create", "Ops", "--description", "the ops team")
    assert created["name"] == "Ops"

    listed = estate.json("organizations", "list")
    names = [o["name"] for o in listed["results"]]
    assert names[0] == "Default" and "Ops" in names
    assert estate.yaml("organizations", "show", str(created["id"])) == created
    assert "the ops team" in estate.ok("organizations", "list").stdout
    taken = estate("organizations", "create", "Ops")
    assert taken.exit_code == 2
    assert "an organization named 'Ops' exists" in words(taken)
    assert estate("organizations", "show", "4242").exit_code == 3


def test_users_and_what_a_non_admin_may_not_do(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = estate.json("users", "create", "viewer", "--new-password", "viewer-password")
    assert (created["username"], created["is_admin"]) == ("viewer", False)
    prompted = estate(
        "users", "create", "asked", "-o", "json", input="asked-password\nasked-password\n"
    )
    assert prompted.exit_code == 0, prompted.stderr
    assert {u["username"] for u in estate.json("users", "list")["results"]} >= {
        "admin",
        "viewer",
        "asked",
    }
    assert estate.json("users", "me")["username"] == "admin"

    as_viewer = ["--username", "viewer", "--password", "viewer-password"]
    assert estate.json(*as_viewer, "users", "me")["username"] == "viewer"
    denied = estate(*as_viewer, "users", "list")
    assert denied.exit_code == 4
    assert "403" in denied.stderr
    wrong = estate("--password", "wrong", "users", "me")
    assert wrong.exit_code == 4
    assert "401" in wrong.stderr and "credentials from the command line" in words(wrong)


def test_tokens(estate: Estate) -> None:
    created = estate.json("tokens", "create", "--name", "ci")
    token = created["token"]
    assert created["name"] == "ci" and token.startswith(created["prefix"])

    listed = estate.json("--token", token, "tokens", "list")
    assert created["id"] in [t["id"] for t in listed["results"]]
    assert token not in estate.ok("tokens", "list").stdout
    short = estate.json("tokens", "create", "--expires-in-days", "2")
    assert short["expires_at"] < created["expires_at"]
    assert estate("tokens", "create", "--expires-in-days", "9999").exit_code != 0
    shown = estate("tokens", "create")
    assert shown.stdout.strip() and "shown this once" in words(shown)
    estate.ok("tokens", "delete", str(created["id"]))
    assert estate("--token", token, "users", "me").exit_code == 4
    assert estate("tokens", "delete", str(created["id"])).exit_code == 3
