"""Authentication: HTTP Basic and bearer tokens, 401 everywhere but ping, admins."""

import re

from fastapi.testclient import TestClient

from estate.api.app import API_PREFIX
from estate.config import Settings
from factories import API

PUBLIC = {f"{API_PREFIX}/ping/"}


def _api_calls(app):
    # FastAPI 0.165 nests included routers in app.routes; its OpenAPI document is the
    # public, flat list of every route (none under the API prefix is hidden from it).
    for template, operations in app.openapi()["paths"].items():
        if template.startswith(API_PREFIX):
            path = re.sub(r"\{[^}]+\}", "1", template)
            for method in sorted(operations):
                yield method.upper(), template, path


def test_every_endpoint_but_ping_answers_401_without_credentials(anonymous: TestClient) -> None:
    calls = list(_api_calls(anonymous.app))
    assert len(calls) > 20
    assert {path for _, path, _ in calls} >= PUBLIC | {
        f"{API_PREFIX}/providers/",
        f"{API_PREFIX}/providers/{{provider_id}}/collect/",
        f"{API_PREFIX}/resources/{{resource_id}}/history/",
        f"{API_PREFIX}/provider-plugins/upload/",
    }

    answers = {
        (method, template): anonymous.request(method, path).status_code
        for method, template, path in calls
        if template not in PUBLIC
    }

    assert answers == dict.fromkeys(answers, 401)
    assert anonymous.get(f"{API}/ping/").status_code == 200


def test_401_names_the_schemes_and_refuses_bad_credentials(
    client: TestClient, anonymous: TestClient
) -> None:
    bare = anonymous.get(f"{API}/providers/")
    assert bare.status_code == 401
    assert "Basic" in bare.headers["www-authenticate"]
    assert "Bearer" in bare.headers["www-authenticate"]

    for auth in [("admin", "wrong-password"), ("nobody", "test-admin-password")]:
        assert anonymous.get(f"{API}/providers/", auth=auth).status_code == 401
    for header in ["Basic !!!not-base64", "Bearer est_not-a-token", "Bearer nope", "Digest x"]:
        response = anonymous.get(f"{API}/providers/", headers={"Authorization": header})
        assert response.status_code == 401, header
    assert client.get(f"{API}/providers/").status_code == 200


def test_the_admin_is_bootstrapped_and_the_default_organization_is_1(
    client: TestClient, settings: Settings
) -> None:
    password = settings.admin_password.get_secret_value()
    me = TestClient(client.app).get(f"{API}/users/me/", auth=("admin", password))

    assert me.status_code == 200
    assert me.json()["username"] == settings.admin_username == "admin"
    assert me.json()["is_admin"] is True
    assert me.json()["organization"] == 1
    default = client.get(f"{API}/organizations/1/")
    assert default.status_code == 200
    assert default.json()["name"] == "Default"
    assert client.get(f"{API}/organizations/").json()["count"] == 1
    assert client.get(f"{API}/organizations/2/").status_code == 404


def test_a_new_organization_gets_its_own_id(client: TestClient) -> None:
    created = client.post(f"{API}/organizations/", json={"name": "Lab"})

    assert created.status_code == 201, created.text
    assert created.json()["id"] != 1
    assert client.get(f"{API}/organizations/{created.json()['id']}/").json()["name"] == "Lab"
    taken = client.post(f"{API}/organizations/", json={"name": "Lab"})
    assert taken.status_code == 400
    assert "name" in taken.json()["detail"]


def test_bearer_tokens_are_shown_once_and_die_with_their_deletion(
    client: TestClient, anonymous: TestClient
) -> None:
    created = client.post(f"{API}/tokens/", json={"name": "ci"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("est_")
    assert created.json()["prefix"] == token[:8]
    bearer = {"Authorization": f"Bearer {token}"}

    me = anonymous.get(f"{API}/users/me/", headers=bearer)
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    assert anonymous.get(f"{API}/providers/", headers=bearer).status_code == 200

    listed = client.get(f"{API}/tokens/")
    assert listed.json()["count"] == 1
    [shown] = listed.json()["results"]
    assert shown["id"] == created.json()["id"]
    assert shown["name"] == "ci"
    assert shown["token"] is None
    assert shown["last_used_at"] is not None
    assert token not in listed.text
    assert token[8:] not in anonymous.get(f"{API}/tokens/", headers=bearer).text

    deleted = client.delete(f"{API}/tokens/{created.json()['id']}/")
    assert deleted.status_code == 204
    assert anonymous.get(f"{API}/users/me/", headers=bearer).status_code == 401
    assert client.get(f"{API}/tokens/").json()["count"] == 0
    assert client.delete(f"{API}/tokens/{created.json()['id']}/").status_code == 404


def test_only_admins_manage_users(client: TestClient, anonymous: TestClient) -> None:
    body = {"username": "alice", "password": "alice-password"}
    created = client.post(f"{API}/users/", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["is_admin"] is False
    assert "password" not in created.json()
    alice = ("alice", "alice-password")

    assert anonymous.get(f"{API}/users/me/", auth=alice).json()["username"] == "alice"
    assert anonymous.get(f"{API}/providers/", auth=alice).status_code == 200
    refused = anonymous.post(
        f"{API}/users/", json={"username": "mallory", "password": "mallory-pw"}, auth=alice
    )
    assert refused.status_code == 403
    assert anonymous.get(f"{API}/users/", auth=alice).status_code == 403
    assert (
        anonymous.post(f"{API}/organizations/", json={"name": "x"}, auth=alice).status_code == 403
    )
    assert [u["username"] for u in client.get(f"{API}/users/").json()["results"]] == [
        "admin",
        "alice",
    ]

    assert client.post(f"{API}/users/", json=body).status_code == 400  # taken
    short = client.post(f"{API}/users/", json={"username": "bob", "password": "Pw3!x"})
    assert short.status_code == 400
    assert "password" in short.json()["detail"]
    assert "Pw3!x" not in short.text


def test_a_token_belongs_to_its_user(client: TestClient, anonymous: TestClient) -> None:
    client.post(f"{API}/users/", json={"username": "carol", "password": "carol-password"})
    carol = ("carol", "carol-password")
    theirs = anonymous.post(f"{API}/tokens/", json={"name": "mine"}, auth=carol).json()

    assert client.get(f"{API}/tokens/").json()["count"] == 0
    client.post(f"{API}/users/", json={"username": "dave", "password": "dave-password"})
    dave = ("dave", "dave-password")
    assert anonymous.delete(f"{API}/tokens/{theirs['id']}/", auth=dave).status_code == 404
    headers = {"Authorization": f"Bearer {theirs['token']}"}
    assert anonymous.get(f"{API}/users/me/", headers=headers).json()["username"] == "carol"


def test_ids_no_column_can_hold_answer_4xx_never_500(client: TestClient) -> None:
    # 2**31 overflows PostgreSQL's integer ids, 10**20 SQLite's 64-bit integers too.
    for huge in (2**31, 10**20):
        for method, template, _ in _api_calls(client.app):
            if "{" not in template:
                continue
            response = client.request(method, re.sub(r"\{[^}]+\}", str(huge), template))
            assert response.status_code in (400, 404, 405), (method, template, huge)

        for url in (
            f"{API}/resources/?provider={huge}",
            f"{API}/collection-runs/?provider={huge}",
            f"{API}/providers/?organization={huge}",
            f"{API}/providers/?page={huge}",
            f"{API}/resources/{huge}/history/?page={huge}",
        ):
            assert client.get(url).status_code in (200, 400, 404), url
        body = {"name": "p", "vendor": "simulated", "provider_type": "datacenter"}
        created = client.post(f"{API}/providers/", json={**body, "organization": huge})
        assert created.status_code == 400
        assert "organization" in created.json()["detail"]
        user = {"username": "u", "password": "long-enough", "organization": huge}
        assert client.post(f"{API}/users/", json=user).status_code == 400
