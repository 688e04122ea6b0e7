"""The plugin repositories' pages on the server side: a system administrator sees each
repository (kind, URL, priority, enabled, last sync and its error, whether a token is
set — never the token) and the forms and buttons that post to the API; a repository's
page lists what it offers with an Install button per version that is not installed,
and the buttons' own requests (sent here as the page carries them, with the session
cookie and CSRF token) install, or are refused with what to do next. A viewer and an
operator get 403; an unknown repository 404; /plugins names where a version came from.
The repository is a static index served by ``python -m http.server``."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_pem
from factories import API, HTML, fixture_plugin, log_in, tarball
from served import static_server, static_site

HOT = "hot:load"
TOKEN = "never-shown-token-4711"


def _user(client: TestClient, username: str, role: str) -> TestClient:
    password = f"{username}-password"
    made = client.post(f"{API}/users/", json={"username": username, "password": password})
    assert made.status_code == 201, made.text
    body = {"user": made.json()["id"], "role": role}
    assert client.post(f"{API}/organizations/1/members/", json=body).status_code == 201
    visitor = TestClient(client.app)
    log_in(visitor, username, password)
    return visitor


def _site(client: TestClient, root: Path) -> Path:
    """hot:load 1.1.0 signed by a key imported here, 1.0.0 unsigned."""
    private = new_private_key()
    body = {"name": "release key", "public_key": public_pem(private.public_key()).decode()}
    assert client.post(f"{API}/signing-keys/", json=body).status_code == 201
    signed = fixture_plugin("hot_load", root / "1.1.0", version="1.1.0")
    sign_package(signed, private)
    unsigned = fixture_plugin("hot_load", root / "1.0.0", version="1.0.0")
    archives = {"1.1.0": tarball(signed), "1.0.0": tarball(unsigned)}
    return static_site(root / "site", HOT, archives)


def _button(page: str, version: str) -> tuple[str, dict[str, object]]:
    """The Install button of ``version`` on a repository's page: its URL and body."""
    row = re.search(
        rf'<tr data-key="{HOT}" data-version="{re.escape(version)}">.*?</tr>', page, re.S
    )
    assert row is not None, page
    button = re.search(
        r'<button class="install" hx-post="([^"]+)".*?data-json=\'([^\']+)\'', row[0]
    )
    assert button is not None, row[0]
    return button[1], json.loads(html.unescape(button[2]))


def test_an_administrator_manages_repositories_and_installs_from_the_page(
    client: TestClient, tmp_path: Path
) -> None:
    admin = TestClient(client.app)
    csrf = log_in(admin)
    site = _site(client, tmp_path)
    with static_server(site) as (url, _):
        body = {"name": "mirror", "kind": "static", "url": url + "/", "token": TOKEN}
        created = client.post(f"{API}/repositories/", json=body).json()
        down = {"name": "down", "kind": "static", "url": "http://127.0.0.1:9/", "priority": 5}
        broken = client.post(f"{API}/repositories/", json=down).json()
        assert client.post(f"{API}/repositories/{broken['id']}/sync/").status_code == 502

        listed = admin.get("/admin/repositories", headers=HTML)
        assert listed.status_code == 200, listed.text
        assert TOKEN not in listed.text
        assert 'id="new-repository" hx-post="/api/inventory/v1/repositories/"' in listed.text
        assert 'type="password" data-field="token"' in listed.text
        row = re.search(r'<tr data-repository="mirror">.*?</tr>', listed.text, re.S)
        assert row is not None
        assert "static" in row[0] and url in row[0] and "<td data-token>set</td>" in row[0]
        assert "never synced" in row[0]
        assert f'hx-post="/api/inventory/v1/repositories/{created["id"]}/sync/"' in row[0]
        failed = re.search(r'<tr data-repository="down">.*?</tr>', listed.text, re.S)
        assert (
            failed is not None
            and "connection refused to http://127.0.0.1:9/index.json" in failed[0]
        )
        assert listed.text.index('data-repository="down"') < listed.text.index(
            'data-repository="mirror"'
        )

        assert client.post(f"{API}/repositories/{created['id']}/sync/").status_code == 200
        page = admin.get(f"/admin/repositories/{created['id']}", headers=HTML)
        assert page.status_code == 200, page.text
        assert TOKEN not in page.text and "<dd data-token>set</dd>" in page.text
        assert 'hx-confirm="Remove repository mirror?' in page.text
        assert 'id="edit-repository"' in page.text and 'value="mirror"' in page.text

        # The buttons' own requests: the unsigned one is refused saying what to do next.
        path, refused_body = _button(page.text, "1.0.0")
        headers = {"X-CSRF-Token": csrf}
        refused = admin.post(path, json=refused_body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert "is not signed" in refused.json()["detail"]
        assert "sign it with `estate plugin sign`" in refused.json()["detail"]
        path, body = _button(page.text, "1.1.0")
        assert body == {"key": HOT, "version": "1.1.0", "source": "mirror"}
        installed = admin.post(path, json=body, headers=headers)
        assert installed.status_code == 201, installed.text

    page = admin.get(f"/admin/repositories/{created['id']}", headers=HTML).text
    row = re.search(rf'<tr data-key="{HOT}" data-version="1.1.0">.*?</tr>', page, re.S)
    assert row is not None and "installed" in row[0] and 'class="install"' not in row[0]
    plugins = admin.get("/plugins", headers=HTML).text
    version = re.search(r'<li data-version="1.1.0">.*?</li>', plugins, re.S)
    assert version is not None and "from mirror" in version[0] and "remote" in version[0]


def test_below_system_administrator_the_pages_are_refused(client: TestClient) -> None:
    body = {"name": "mirror", "kind": "estate", "url": "https://e.example", "token": TOKEN}
    created = client.post(f"{API}/repositories/", json=body).json()
    paths = ("/admin/repositories", f"/admin/repositories/{created['id']}")
    for role in ("viewer", "operator", "admin"):
        visitor = _user(client, f"u-{role}", role)
        for path in paths:
            refused = visitor.get(path, headers=HTML)
            assert refused.status_code == 403, (role, path)
            assert TOKEN not in refused.text and "mirror" not in refused.text
        assert "/admin/repositories" not in visitor.get("/admin", headers=HTML).text
    admin = TestClient(client.app)
    log_in(admin)
    assert 'href="/admin/repositories"' in admin.get("/admin", headers=HTML).text
    assert admin.get("/admin/repositories/99999", headers=HTML).status_code == 404
    typo = admin.get("/admin/repositories", params={"sort": "name"}, headers=HTML)
    assert typo.status_code == 400 and "sort" in typo.text
    anonymous = TestClient(client.app).get("/admin/repositories", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
