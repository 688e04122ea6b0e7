"""The plugins, catalog, events and administration pages on the server side, as each
role sees them: what a viewer, an organization admin, an outsider and a system
administrator are shown and offered, the 403 page below the role, 404 for what is
not theirs, and a 400 page naming a bad filter. The pages' writes are the API's
(tests/api checks those); the browser tests click them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from estate.db.models import Event
from factories import API, HTML, create_provider, log_in


def _user(client: TestClient, username: str, roles: dict[int, str]) -> TestClient:
    """A user with ``roles`` (organization id → role), logged in to the pages."""
    password = f"{username}-password"
    made = client.post(f"{API}/users/", json={"username": username, "password": password})
    assert made.status_code == 201, made.text
    for organization, role in roles.items():
        body = {"user": made.json()["id"], "role": role}
        added = client.post(f"{API}/organizations/{organization}/members/", json=body)
        assert added.status_code == 201, added.text
    visitor = TestClient(client.app)
    log_in(visitor, username, password)
    return visitor


def _organization(client: TestClient, name: str) -> int:
    made = client.post(f"{API}/organizations/", json={"name": name})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _admin(client: TestClient) -> TestClient:
    admin = TestClient(client.app)
    log_in(admin)
    return admin


def test_plugins_show_every_role_the_plugins_and_only_administrators_the_upload(
    client: TestClient,
) -> None:
    theirs = _organization(client, "Theirs")
    create_provider(client, name="Ours")
    create_provider(client, name="Hidden", organization=theirs)
    viewer = _user(client, "vera", {1: "viewer"})
    admin = _admin(client)

    shown = admin.get("/plugins", headers=HTML)
    seen = viewer.get("/plugins", headers=HTML)

    assert shown.status_code == seen.status_code == 200
    assert 'id="dropzone"' in shown.text and 'id="processes"' in shown.text
    assert 'data-upload="/api/inventory/v1/provider-plugins/upload/"' in shown.text
    assert 'data-key="simulated:datacenter"' in seen.text
    assert 'hx-delete="/api/inventory/v1/provider-plugins/simulated:datacenter/"' in shown.text
    assert "dropzone" not in seen.text and 'id="processes"' not in seen.text
    assert "hx-delete" not in seen.text
    # Providers using the plugin are counted within what each may see.
    count = re.compile(r'data-key="simulated:datacenter".*?<td class="num">(\d+)</td>', re.S)
    assert count.search(shown.text).group(1) == "2"  # type: ignore[union-attr]
    assert count.search(seen.text).group(1) == "1"  # type: ignore[union-attr]
    assert '<span class="status ready" data-state>ready</span>' in seen.text
    assert 'sse-connect="/live/plugins"' in seen.text


def test_the_catalog_shows_profiles_badges_and_actions(client: TestClient) -> None:
    admin = _admin(client)
    entry = client.get(f"{API}/catalog/simulated:datacenter/").json()

    listed = admin.get("/catalog", headers=HTML)
    detail = admin.get("/catalog/simulated:datacenter", headers=HTML)
    missing = admin.get("/catalog/no:such", headers=HTML)

    assert listed.status_code == detail.status_code == 200
    for profile in entry["profiles"]:
        badge = f'src="/api/inventory/v1/catalog/simulated%3Adatacenter/badges/{profile}.svg"'
        assert badge in listed.text and badge in detail.text
        svg = admin.get(f"{API}/catalog/simulated:datacenter/badges/{profile}.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        status = entry["conformance"][profile]["status"]
        assert f'data-profile="{profile}" data-status="{status}"' in detail.text
    for action in entry["actions"]:
        assert f"<code>{action['name']}</code>" in detail.text
    assert entry["maturity"] in detail.text
    assert missing.status_code == 404 and "no plugin is installed" in missing.text


def test_events_are_filtered_to_the_visitors_organizations_and_paginated(
    client: TestClient,
) -> None:
    theirs = _organization(client, "Theirs")
    ours = create_provider(client, name="Ours")["id"]
    hidden = create_provider(client, name="Hidden", organization=theirs)["id"]
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        for n in range(55):
            session.add(
                Event(provider_id=ours, type="disk.full", severity="warning", message=f"ours-{n}")
            )
        session.add(Event(provider_id=ours, type="vm.moved", severity="info", message="moved-ours"))
        session.add(
            Event(provider_id=hidden, type="vm.moved", severity="error", message="theirs-0")
        )
        session.commit()
    viewer = _user(client, "vera", {1: "viewer"})
    admin = _admin(client)

    first = viewer.get("/events", headers=HTML)
    second = viewer.get("/events?page=2", headers=HTML)
    moved = viewer.get("/events?type=vm.moved&severity=&provider=&run=&action_run=", headers=HTML)
    every_moved = admin.get("/events?type=vm.moved", headers=HTML)

    assert first.status_code == second.status_code == moved.status_code == 200
    assert first.text.count("<tr>") - 1 == 50 and 'rel="next"' in first.text
    assert "moved-ours" in first.text  # newest first
    assert second.text.count("ours-") == 6 and 'rel="next"' not in second.text
    assert "moved-ours" in moved.text and "disk.full" not in moved.text.split("<tbody>")[1]
    for page in (first, second, moved):
        assert "theirs-0" not in page.text and "Hidden" not in page.text
    assert "theirs-0" in every_moved.text and "moved-ours" in every_moved.text
    for bad, named in (
        ("severity=loud", "severity"),
        ("provider=abc", "provider"),
        ("sevrity=info", "did you mean &#39;severity&#39;"),  # a typo is refused, not ignored
        ("type=%00", "type"),  # no database compares a NUL
    ):
        refused = viewer.get(f"/events?{bad}", headers=HTML)
        assert refused.status_code == 400 and named in refused.text, bad


def test_administration_pages_answer_403_below_their_role(client: TestClient) -> None:
    theirs = _organization(client, "Theirs")
    viewer = _user(client, "vera", {1: "viewer"})
    org_admin = _user(client, "otto", {1: "admin", theirs: "viewer"})

    for path in ("/admin/users", "/admin/audit", "/admin/organizations", "/admin/organizations/1"):
        refused = viewer.get(path, headers=HTML)
        assert refused.status_code == 403, path
        assert "vera" in refused.text  # the page, not a bare error
    assert viewer.get("/admin/tokens", headers=HTML).status_code == 200
    assert 'href="/admin"' not in viewer.get("/", headers=HTML).text

    assert 'href="/admin"' in org_admin.get("/", headers=HTML).text
    for path in ("/admin/users", "/admin/audit"):
        assert org_admin.get(path, headers=HTML).status_code == 403, path
    organizations = org_admin.get("/admin/organizations", headers=HTML)
    assert organizations.status_code == 200
    assert 'href="/admin/organizations/1"' in organizations.text
    assert f'href="/admin/organizations/{theirs}"' not in organizations.text  # a viewer there
    assert "new-organization" not in organizations.text  # system administrators create them
    members = org_admin.get("/admin/organizations/1", headers=HTML)
    assert members.status_code == 200 and 'data-member="vera"' in members.text
    assert 'hx-delete="/api/inventory/v1/organizations/1/members/' in members.text
    assert org_admin.get(f"/admin/organizations/{theirs}", headers=HTML).status_code == 403
    hidden = _organization(client, "Hidden")
    assert org_admin.get(f"/admin/organizations/{hidden}", headers=HTML).status_code == 404
    assert org_admin.get("/admin/organizations/99999", headers=HTML).status_code == 404


def test_a_system_administrator_sees_users_tokens_and_the_audit_log(client: TestClient) -> None:
    _user(client, "vera", {1: "viewer"})
    made = client.post(f"{API}/tokens/", json={"name": "ci"}).json()
    admin = _admin(client)

    users = admin.get("/admin/users", headers=HTML)
    tokens = admin.get("/admin/tokens", headers=HTML)
    audit = admin.get("/admin/audit?action=users.create", headers=HTML)
    since = admin.get("/admin/audit?since=2000-01-01T00:00&user=admin", headers=HTML)
    bad = admin.get("/admin/audit?since=yesterday", headers=HTML)

    assert users.status_code == tokens.status_code == audit.status_code == 200
    assert 'data-user="vera"' in users.text and 'id="new-user"' in users.text
    assert f'hx-post="/api/inventory/v1/users/{made["user"]}/password/"' in users.text
    assert f'data-token="{made["prefix"]}"' in tokens.text and made["token"] not in tokens.text
    assert tokens.text.count(f'data-token="{made["prefix"]}"') == 2  # theirs, and everyone's
    rows = audit.text.split("<tbody>")[1]
    assert "<code>users.create</code>" in rows and "tokens.create" not in rows
    assert since.status_code == 200 and "<code>tokens.create</code>" in since.text
    assert bad.status_code == 400 and "since" in bad.text
