"""The plugins, catalog, events and administration pages on the server side, as each
role sees them: what a viewer, an organization admin, an outsider and a system
administrator are shown and offered, the 403 page below the role, and the 400 page
naming a bad filter. Writes are the API's (tests/api); these pages only call it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import API, HTML, log_in


def _member(client: TestClient, username: str, role: str, organization: int = 1) -> int:
    made = client.post(
        f"{API}/users/", json={"username": username, "password": f"{username}-password"}
    )
    assert made.status_code == 201, made.text
    body = {"user": made.json()["id"], "role": role}
    assert client.post(f"{API}/organizations/{organization}/members/", json=body).status_code == 201
    return int(made.json()["id"])


def _as(client: TestClient, username: str) -> TestClient:
    other = TestClient(client.app)
    log_in(other, username, f"{username}-password")
    return other


def test_smoke(client: TestClient) -> None:
    admin = TestClient(client.app)
    log_in(admin)
    for path in (
        "/plugins",
        "/catalog",
        "/catalog/simulated:datacenter",
        "/events",
        "/admin",
        "/admin/users",
        "/admin/organizations",
        "/admin/organizations/1",
        "/admin/tokens",
        "/admin/audit",
    ):
        answer = admin.get(path, headers=HTML)
        assert answer.status_code == 200, (path, answer.text[:3000])
