"""The pages show a user only their organizations' estate: another organization's
provider, run, resource and watchlist are 404 (their existence not even confirmed), and the
lists and the dashboard do not name them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import API, HTML, all_resources, collect, create_provider, log_in


def test_an_outsider_sees_none_of_another_organizations_pages(
    client: TestClient, anonymous: TestClient
) -> None:
    provider = create_provider(client, name="Hidden estate")
    run = collect(client, provider["id"])
    resource = all_resources(client, provider=provider["id"])[0]
    watchlist = client.post(f"{API}/watchlists/", json={"name": "Hidden estate's list"}).json()
    theirs = client.post(f"{API}/organizations/", json={"name": "Theirs"}).json()["id"]
    outsider = client.post(f"{API}/users/", json={"username": "eve", "password": "eve-password-1"})
    member = {"user": outsider.json()["id"], "role": "admin"}
    assert client.post(f"{API}/organizations/{theirs}/members/", json=member).status_code == 201
    admin = TestClient(client.app)
    log_in(admin)
    found = admin.get(f"/resources?search={resource['name']}", headers=HTML).text
    assert f'href="/resources/{resource["id"]}"' in found  # what the outsider must not see
    log_in(anonymous, "eve", "eve-password-1")

    for path in (
        f"/providers/{provider['id']}",
        f"/providers/{provider['id']}/edit",
        f"/runs/{run['id']}",
        f"/resources/{resource['id']}",
        f"/resources/{resource['id']}/actions",
        f"/watchlists/{watchlist['id']}",
    ):
        page = anonymous.get(path, headers=HTML)
        assert page.status_code == 404, (path, page.status_code)
        assert "Hidden estate" not in page.text, path
    for path in (
        "/", "/providers", "/runs", f"/resources?search={resource['name']}", "/watchlists",
    ):  # fmt: skip
        page = anonymous.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert "Hidden estate" not in page.text, path
        assert f'href="/resources/{resource["id"]}"' not in page.text, path
