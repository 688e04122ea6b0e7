"""Accounts: deactivate, delete, reset and change passwords, tokens that expire and
that their owner or a system administrator revokes; the last administrator stays."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from conftest import ADMIN_PASSWORD
from estate.db.models import ApiToken
from factories import API


def _user(client: TestClient, username: str, **extra: object) -> dict[str, object]:
    body = {"username": username, "password": f"{username}-password", **extra}
    created = client.post(f"{API}/users/", json=body)
    assert created.status_code == 201, created.text
    result: dict[str, object] = created.json()
    return result


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_deactivated_user_is_refused_at_the_next_request(
    client: TestClient, anonymous: TestClient
) -> None:
    alice = _user(client, "alice")
    auth = ("alice", "alice-password")
    token = anonymous.post(f"{API}/tokens/", json={"name": "t"}, auth=auth).json()["token"]
    assert anonymous.get(f"{API}/users/me/", auth=auth).status_code == 200  # cached now
    assert anonymous.get(f"{API}/users/me/", headers=_bearer(token)).status_code == 200

    patched = client.patch(f"{API}/users/{alice['id']}/", json={"is_active": False})

    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False
    assert anonymous.get(f"{API}/users/me/", auth=auth).status_code == 401
    assert anonymous.get(f"{API}/users/me/", headers=_bearer(token)).status_code == 401
    client.patch(f"{API}/users/{alice['id']}/", json={"is_active": True})
    assert anonymous.get(f"{API}/users/me/", auth=auth).status_code == 200


def test_a_reset_password_replaces_the_old_one_despite_the_cache(
    client: TestClient, anonymous: TestClient
) -> None:
    bob = _user(client, "bob")
    old = ("bob", "bob-password")
    assert anonymous.get(f"{API}/users/me/", auth=old).status_code == 200  # cached now

    reset = client.post(f"{API}/users/{bob['id']}/password/", json={"password": "new-bob-pw"})

    assert reset.status_code == 204, reset.text
    assert anonymous.get(f"{API}/users/me/", auth=old).status_code == 401
    assert anonymous.get(f"{API}/users/me/", auth=("bob", "new-bob-pw")).status_code == 200
    assert "new-bob-pw" not in client.get(f"{API}/audit/").text


def test_a_user_changes_their_own_password_with_the_current_one(
    client: TestClient, anonymous: TestClient
) -> None:
    _user(client, "carol")
    old = ("carol", "carol-password")
    assert anonymous.get(f"{API}/users/me/", auth=old).status_code == 200
    me = f"{API}/users/me/password/"

    wrong = anonymous.post(
        me, json={"current_password": "guess-guess", "new_password": "carol-new-pw"}, auth=old
    )
    assert wrong.status_code == 400
    assert "current_password" in wrong.json()["detail"]
    short = anonymous.post(
        me, json={"current_password": "carol-password", "new_password": "short"}, auth=old
    )
    assert short.status_code == 400
    body = {"current_password": "carol-password", "new_password": "carol-new-pw"}
    assert anonymous.post(me, json=body, auth=old).status_code == 204

    assert anonymous.get(f"{API}/users/me/", auth=old).status_code == 401
    assert anonymous.get(f"{API}/users/me/", auth=("carol", "carol-new-pw")).status_code == 200


def test_users_are_read_by_themselves_and_managed_by_system_administrators(
    client: TestClient, anonymous: TestClient
) -> None:
    dave = _user(client, "dave")
    erin = _user(client, "erin")
    auth = ("dave", "dave-password")

    assert anonymous.get(f"{API}/users/{dave['id']}/", auth=auth).json()["username"] == "dave"
    assert anonymous.get(f"{API}/users/{erin['id']}/", auth=auth).status_code == 403
    assert client.get(f"{API}/users/{erin['id']}/").json()["username"] == "erin"
    assert client.get(f"{API}/users/999/").status_code == 404
    for method, path, body in [
        ("PATCH", f"users/{erin['id']}/", {"is_active": False}),
        ("PATCH", f"users/{dave['id']}/", {"is_admin": True}),
        ("DELETE", f"users/{erin['id']}/", None),
        ("POST", f"users/{erin['id']}/password/", {"password": "taken-over"}),
        ("GET", f"users/{erin['id']}/tokens/", None),
    ]:
        refused = anonymous.request(method, f"{API}/{path}", json=body, auth=auth)
        assert refused.status_code == 403, (method, path)
    assert client.get(f"{API}/users/{dave['id']}/").json()["is_admin"] is False


def test_deleting_a_user_deletes_their_tokens(client: TestClient, anonymous: TestClient) -> None:
    frank = _user(client, "frank")
    auth = ("frank", "frank-password")
    token = anonymous.post(f"{API}/tokens/", json={}, auth=auth).json()["token"]

    assert client.delete(f"{API}/users/{frank['id']}/").status_code == 204

    assert anonymous.get(f"{API}/users/me/", auth=auth).status_code == 401
    assert anonymous.get(f"{API}/users/me/", headers=_bearer(token)).status_code == 401
    assert client.get(f"{API}/users/{frank['id']}/").status_code == 404
    assert client.delete(f"{API}/users/{frank['id']}/").status_code == 404


def test_the_last_active_system_administrator_stays(
    client: TestClient, anonymous: TestClient
) -> None:
    admin_id = client.get(f"{API}/users/me/").json()["id"]
    for method, body in [("PATCH", {"is_active": False}), ("PATCH", {"is_admin": False})]:
        refused = client.request(method, f"{API}/users/{admin_id}/", json=body)
        assert refused.status_code == 409, refused.text
        assert "last active system administrator" in refused.json()["detail"]
    deleted = client.delete(f"{API}/users/{admin_id}/")
    assert deleted.status_code == 409
    assert "last active system administrator" in deleted.json()["detail"]

    grace = _user(client, "grace", is_admin=True)
    client.patch(f"{API}/users/{grace['id']}/", json={"is_active": False})
    assert client.patch(f"{API}/users/{admin_id}/", json={"is_admin": False}).status_code == 409
    client.patch(f"{API}/users/{grace['id']}/", json={"is_active": True})

    demoted = client.patch(f"{API}/users/{admin_id}/", json={"is_admin": False})
    assert demoted.status_code == 200
    assert demoted.json()["is_admin"] is False
    grace_auth = ("grace", "grace-password")
    assert anonymous.delete(f"{API}/users/{grace['id']}/", auth=grace_auth).status_code == 409
    assert client.get(f"{API}/users/").status_code == 403  # admin is no longer one


def test_owners_and_system_administrators_revoke_tokens(
    client: TestClient, anonymous: TestClient
) -> None:
    heidi = _user(client, "heidi")
    auth = ("heidi", "heidi-password")
    first = anonymous.post(f"{API}/tokens/", json={"name": "laptop"}, auth=auth).json()
    second = anonymous.post(f"{API}/tokens/", json={"name": "ci"}, auth=auth).json()
    for token in (first, second):
        assert anonymous.get(f"{API}/users/me/", headers=_bearer(token["token"])).status_code == 200

    listed = client.get(f"{API}/users/{heidi['id']}/tokens/")
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["results"]] == ["laptop", "ci"]
    assert all(t["token"] is None and t["last_used_at"] for t in listed.json()["results"])
    assert first["token"] not in listed.text

    assert client.delete(f"{API}/tokens/{first['id']}/").status_code == 204  # an admin
    assert anonymous.delete(f"{API}/tokens/{second['id']}/", auth=auth).status_code == 204
    for token in (first, second):
        assert anonymous.get(f"{API}/users/me/", headers=_bearer(token["token"])).status_code == 401
    assert client.get(f"{API}/users/{heidi['id']}/tokens/").json()["count"] == 0


def test_tokens_expire(client: TestClient, anonymous: TestClient) -> None:
    default = client.post(f"{API}/tokens/", json={"name": "default"})
    assert default.status_code == 201
    expires = datetime.fromisoformat(default.json()["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    week = client.post(f"{API}/tokens/", json={"expires_in_days": 7}).json()
    assert datetime.fromisoformat(week["expires_at"]) < expires
    assert client.post(f"{API}/tokens/", json={"expires_in_days": 365}).status_code == 201
    too_long = client.post(f"{API}/tokens/", json={"expires_in_days": 366})
    assert too_long.status_code == 400
    assert "365" in too_long.json()["detail"]
    assert "ESTATE_TOKEN_MAX_DAYS" in too_long.json()["detail"]
    assert client.post(f"{API}/tokens/", json={"expires_in_days": 0}).status_code == 400

    headers = _bearer(week["token"])
    assert anonymous.get(f"{API}/users/me/", headers=headers).status_code == 200
    context = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(ApiToken).where(ApiToken.id == week["id"]).values(expires_at=past))
        session.commit()

    expired = anonymous.get(f"{API}/users/me/", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["detail"] == "token expired"
    assert anonymous.get(f"{API}/users/me/", auth=("admin", ADMIN_PASSWORD)).status_code == 200
