"""The audit log: an entry for every create, update, delete, collect and upload, for
failed logins and (once an hour per user and client) successful ones; admins only."""

from pathlib import Path

from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from factories import API, collect, create_provider, fixture_plugin, tarball, upload


def _entries(client: TestClient, **filters: object) -> list[dict[str, object]]:
    answer = client.get(f"{API}/audit/", params=filters)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, object]] = answer.json()["results"]
    return results


def test_every_change_is_recorded_with_who_what_and_which(
    client: TestClient, tmp_path: Path
) -> None:
    provider = create_provider(client)
    assert client.patch(f"{API}/providers/{provider['id']}/", json={"name": "Renamed"}).is_success
    collect(client, provider["id"])
    uploaded = upload(client, tarball(fixture_plugin("seed", tmp_path / "plugin")))
    assert uploaded.status_code == 201, uploaded.text
    assert client.delete(f"{API}/providers/{provider['id']}/").status_code == 204
    refused = client.patch(f"{API}/providers/{provider['id']}/", json={"name": "Gone"})
    assert refused.status_code == 404

    entries = [e for e in _entries(client) if not str(e["action"]).startswith("auth.")]

    pid = str(provider["id"])
    assert [(e["action"], e["object_type"], e["object_id"], e["status"]) for e in entries] == [
        ("providers.update", "providers", pid, 404),
        ("providers.delete", "providers", pid, 204),
        ("provider-plugins.upload", "provider-plugins", uploaded.json()["key"], 201),
        ("providers.collect", "providers", pid, 202),
        ("providers.update", "providers", pid, 200),
        ("providers.create", "providers", pid, 201),
    ]
    assert all(e["username"] == "admin" and e["client"] == "testclient" for e in entries)
    assert entries[-1]["organization"] == 1
    assert f"no provider with id {pid}" in str(entries[0]["detail"])
    assert [
        e["action"] for e in _entries(client, object_type="providers", action="providers.update")
    ] == [
        "providers.update",
        "providers.update",
    ]
    assert len(_entries(client, object_type="providers", object_id=pid)) == 5


def test_logins_are_recorded_once_an_hour_and_failures_every_time(
    client: TestClient, anonymous: TestClient
) -> None:
    created = client.post(f"{API}/users/", json={"username": "ivan", "password": "ivan-password"})
    ivan = ("ivan", "ivan-password")
    for _ in range(3):
        assert anonymous.get(f"{API}/users/me/", auth=ivan).status_code == 200
    token = anonymous.post(f"{API}/tokens/", json={"name": "t"}, auth=ivan).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get(f"{API}/users/me/", headers=headers).status_code == 200
    assert anonymous.get(f"{API}/users/me/", auth=("ivan", "wrong-one")).status_code == 401
    assert anonymous.get(f"{API}/users/me/", auth=("nobody", "wrong-two")).status_code == 401

    logins = _entries(client, action="auth.login", user="ivan")
    assert len(logins) == 1
    assert logins[0]["user"] == created.json()["id"]
    failed = _entries(client, action="auth.login_failed")
    assert [(e["username"], e["detail"], e["status"]) for e in failed] == [
        ("nobody", "unknown user", 401),
        ("ivan", "wrong password", 401),
    ]
    assert _entries(client, user=str(created.json()["id"]), action="tokens.create")
    everything = client.get(f"{API}/audit/", params={"page_size": 1000}).text
    for secret in ("ivan-password", "wrong-one", "wrong-two", token, token[8:]):
        assert secret not in everything
    assert _entries(client, since="2999-01-01T00:00:00Z") == []
    assert len(_entries(client, since="2000-01-01T00:00:00Z")) >= 5


def test_only_a_system_administrator_reads_the_audit_log(
    client: TestClient, anonymous: TestClient
) -> None:
    client.post(f"{API}/users/", json={"username": "judy", "password": "judy-password"})

    assert anonymous.get(f"{API}/audit/", auth=("judy", "judy-password")).status_code == 403
    assert anonymous.get(f"{API}/audit/").status_code == 401
    assert anonymous.get(f"{API}/audit/", auth=("admin", ADMIN_PASSWORD)).status_code == 200
    page = client.get(f"{API}/audit/", params={"page_size": 1})
    assert page.json()["count"] >= 2
    assert page.json()["next"] is not None
