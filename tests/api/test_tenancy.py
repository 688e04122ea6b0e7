"""The attacks of the tenancy issue, each refused: organizations separate, plugins are
code only system administrators install, secrets stay with their plugin."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.db.models import ActionRun, CollectionRun, Event, Provider
from estate.db.states import RunStatus
from factories import API, create_provider

PASSWORD = "tenant-password"


def _org(client: TestClient, name: str) -> int:
    created = client.post(f"{API}/organizations/", json={"name": name})
    assert created.status_code == 201, created.text
    organization: int = created.json()["id"]
    return organization


def _user(client: TestClient, name: str, **roles: int) -> tuple[str, str]:
    """A user holding ``roles`` (role name → organization id); its credentials."""
    user = client.post(f"{API}/users/", json={"username": name, "password": PASSWORD})
    assert user.status_code == 201, user.text
    for role, organization in roles.items():
        added = client.post(
            f"{API}/organizations/{organization}/members/",
            json={"user": user.json()["id"], "role": role},
        )
        assert added.status_code == 201, added.text
    return (name, PASSWORD)


@pytest.fixture
def tenants(client: TestClient) -> dict[str, Any]:
    """Organizations A and B, each with an admin, and a provider of A with a finished
    and a pending run and an event."""
    a, b = _org(client, "A"), _org(client, "B")
    provider = create_provider(
        client,
        name="A's",
        vendor="acme",
        provider_type="cloud",
        organization=a,
        connection_config={"username": "root", "password": "a-secret"},
    )
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        done = CollectionRun(provider_id=provider["id"], status=RunStatus.COMPLETED)
        pending = CollectionRun(provider_id=provider["id"], status=RunStatus.PENDING)
        session.add_all([done, pending])
        session.flush()
        session.add(Event(provider_id=provider["id"], type="t", severity="info"))
        session.add(Event(provider_id=None, type="plugin-wide", severity="info"))
        action = ActionRun(provider_id=provider["id"], action="template_list")
        session.add(action)
        session.commit()
        runs = {"done": done.id, "pending": pending.id, "action": action.id}
    return {
        "a": a,
        "b": b,
        "provider": provider,
        "runs": runs,
        "a_admin": _user(client, "a-admin", admin=a),
        "b_admin": _user(client, "b-admin", admin=b),
    }


def test_an_outsider_sees_and_touches_nothing_of_another_organization(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    outsider = TestClient(client.app, headers={})
    outsider.auth = tenants["b_admin"]
    provider = tenants["provider"]["id"]
    url = f"{API}/providers/{provider}/"

    for listing in ("providers/", "collection-runs/", "events/", "resources/", "action-runs/"):
        assert outsider.get(f"{API}/{listing}").json()["count"] == 0, listing
    assert [o["name"] for o in outsider.get(f"{API}/organizations/").json()["results"]] == ["B"]
    for method, path in [
        ("GET", url),
        ("PATCH", url),
        ("DELETE", url),
        ("POST", f"{url}collect/"),
        ("POST", f"{url}test/"),
        ("GET", f"{API}/collection-runs/{tenants['runs']['done']}/"),
        ("POST", f"{API}/collection-runs/{tenants['runs']['pending']}/cancel/"),
        ("GET", f"{API}/action-runs/{tenants['runs']['action']}/"),
        ("POST", f"{API}/action-runs/{tenants['runs']['action']}/cancel/"),
        ("GET", f"{url}actions/"),
        ("POST", f"{url}actions/template_list/"),
        ("GET", f"{API}/organizations/{tenants['a']}/"),
        ("GET", f"{API}/organizations/{tenants['a']}/members/"),
    ]:
        answer = outsider.request(method, path, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
        assert "role" not in answer.text
    moved = outsider.patch(url, json={"organization": tenants["b"]})
    assert moved.status_code == 404
    created = outsider.post(
        f"{API}/providers/",
        json={
            "name": "x",
            "vendor": "acme",
            "provider_type": "cloud",
            "organization": tenants["a"],
        },
    )
    assert created.status_code == 400
    assert created.json()["detail"] == f"organization: no organization with id {tenants['a']}"

    shown = client.get(url).json()
    assert (shown["organization"], shown["name"]) == (tenants["a"], "A's")
    run = client.get(f"{API}/collection-runs/{tenants['runs']['pending']}/").json()
    assert run["status"] == "pending"
    action = client.get(f"{API}/action-runs/{tenants['runs']['action']}/").json()
    assert action["status"] == "pending"
    assert client.get(f"{API}/action-runs/").json()["count"] == 1
    assert (
        client.get(f"{API}/providers/", params={"organization": tenants["a"]}).json()["count"] == 1
    )


def test_lists_show_the_callers_organizations_and_only_system_admins_see_plugin_wide_events(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    member = TestClient(client.app)
    member.auth = tenants["a_admin"]

    assert member.get(f"{API}/providers/").json()["count"] == 1
    assert member.get(f"{API}/collection-runs/").json()["count"] == 2
    events = member.get(f"{API}/events/").json()["results"]
    assert [e["type"] for e in events] == ["t"]
    assert {e["type"] for e in client.get(f"{API}/events/").json()["results"]} == {
        "t",
        "plugin-wide",
    }
    hidden = client.get(f"{API}/events/", params={"type": "plugin-wide"}).json()["results"][0]
    assert member.get(f"{API}/events/{hidden['id']}/").status_code == 404
    assert client.get(f"{API}/events/{hidden['id']}/").status_code == 200
    me = member.get(f"{API}/users/me/").json()
    assert me["memberships"] == [{"organization": tenants["a"], "role": "admin"}]
    plugins = {p["key"]: p for p in member.get(f"{API}/provider-plugins/").json()}
    assert plugins["simulated:datacenter"]["provider_count"] == 0


def test_moving_a_provider_needs_the_admin_role_in_both_organizations(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    a, b = tenants["a"], tenants["b"]
    mover = TestClient(client.app)
    mover.auth = _user(client, "mover", admin=a, viewer=b)
    url = f"{API}/providers/{tenants['provider']['id']}/"

    refused = mover.patch(url, json={"organization": b})
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"this needs the admin role in organization {b}"
    user_id = mover.get(f"{API}/users/me/").json()["id"]
    raised = client.patch(f"{API}/organizations/{b}/members/{user_id}/", json={"role": "admin"})
    assert raised.status_code == 200, raised.text
    moved = mover.patch(url, json={"organization": b})
    assert moved.status_code == 200, moved.text
    assert moved.json()["organization"] == b


def test_an_operator_collects_and_cancels_but_does_not_edit(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    operator = TestClient(client.app)
    operator.auth = _user(client, "op", operator=tenants["a"])
    url = f"{API}/providers/{tenants['provider']['id']}/"

    edit = operator.patch(url, json={"name": "mine"})
    assert edit.status_code == 403
    assert edit.json()["detail"] == f"this needs the admin role in organization {tenants['a']}"
    assert operator.delete(url).status_code == 403
    canceled = operator.post(f"{API}/collection-runs/{tenants['runs']['pending']}/cancel/")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert operator.post(f"{url}test/").status_code == 200


def _stored_secrets(client: TestClient, provider_id: int) -> dict[str, Any]:
    context = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        opened: dict[str, Any] = context.box.open(provider.secrets)
        return opened


def test_switching_the_plugin_refuses_to_carry_the_stored_secrets(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    provider = tenants["provider"]["id"]
    url = f"{API}/providers/{provider}/"
    switch = {"vendor": "evil", "provider_type": "grab"}

    for config in (None, {"username": "root"}, {"password": "$encrypted$"}):
        body = switch if config is None else {**switch, "connection_config": config}
        refused = client.patch(url, json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"] == (
            "connection_config: changing the plugin drops the stored secrets; "
            "send them again (password)"
        )
    assert _stored_secrets(client, provider) == {"password": "a-secret"}
    assert client.get(url).json()["vendor"] == "acme"

    put = {"name": "A's", "organization": tenants["a"], **switch}
    assert client.put(url, json=put).status_code == 400

    switched = client.patch(url, json={**switch, "connection_config": {"password": "fresh"}})
    assert switched.status_code == 200, switched.text
    assert switched.json()["connection_config"] == {"password": "$encrypted$"}
    assert _stored_secrets(client, provider) == {"password": "fresh"}

    # Without secrets there is nothing to carry over: the switch needs no resend.
    plain = create_provider(client, name="plain", vendor="acme", provider_type="cloud")
    again = client.patch(f"{API}/providers/{plain['id']}/", json=switch)
    assert again.status_code == 200, again.text


def test_only_system_administrators_install_or_remove_plugins(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    admin_of_a = TestClient(client.app)
    admin_of_a.auth = tenants["a_admin"]
    key = "simulated:datacenter"
    files = {"plugin": ("p.tar.gz", b"anything", "application/gzip")}

    for method, path, kwargs in [
        ("POST", "provider-plugins/upload/", {"files": files}),
        ("POST", "provider-plugins/upload/?force=true", {"files": files}),
        ("DELETE", f"provider-plugins/{key}/", {}),
        ("DELETE", f"provider-plugins/{key}/?force=true", {}),
        ("POST", "provider-plugins/refresh/", {}),
        ("POST", f"provider-plugins/{key}/test/", {}),
        ("POST", f"plugin-apis/{key}/anything", {}),
        ("GET", "plugin-processes/", {}),
    ]:
        answer = admin_of_a.request(method, f"{API}/{path}", **kwargs)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "system administrator" in answer.json()["detail"]
    assert client.get(f"{API}/provider-plugins/{key}/").status_code == 200


def test_members_are_managed_by_the_organizations_admins(
    client: TestClient, tenants: dict[str, Any]
) -> None:
    a = tenants["a"]
    admin_of_a = TestClient(client.app)
    admin_of_a.auth = tenants["a_admin"]
    newcomer = client.post(f"{API}/users/", json={"username": "new", "password": PASSWORD})
    new_id = newcomer.json()["id"]
    members = f"{API}/organizations/{a}/members/"

    added = admin_of_a.post(members, json={"user": new_id, "role": "operator"})
    assert added.status_code == 201, added.text
    assert (added.json()["username"], added.json()["role"]) == ("new", "operator")
    again = admin_of_a.post(members, json={"user": new_id})
    assert again.status_code == 400
    assert "member already" in again.json()["detail"]
    assert admin_of_a.post(members, json={"user": 424242}).json()["detail"] == (
        "user: no user with id 424242"
    )
    bad = admin_of_a.patch(f"{members}{new_id}/", json={"role": "owner"})
    assert bad.status_code == 400
    assert "role" in bad.json()["detail"]
    listed = admin_of_a.get(members).json()["results"]
    assert {(m["username"], m["role"]) for m in listed} == {
        ("a-admin", "admin"),
        ("new", "operator"),
    }

    assert admin_of_a.delete(f"{members}{new_id}/").status_code == 204
    assert admin_of_a.delete(f"{members}{new_id}/").status_code == 404
    gone = TestClient(client.app)
    gone.auth = ("new", PASSWORD)
    assert gone.get(f"{API}/providers/{tenants['provider']['id']}/").status_code == 404
    assert gone.get(f"{API}/users/me/").json()["memberships"] == []


def test_a_user_created_in_an_organization_views_it(client: TestClient) -> None:
    created = client.post(
        f"{API}/users/", json={"username": "v", "password": PASSWORD, "organization": 1}
    )

    assert created.status_code == 201, created.text
    assert created.json()["memberships"] == [{"organization": 1, "role": "viewer"}]
    viewer = TestClient(client.app)
    viewer.auth = ("v", PASSWORD)
    provider = create_provider(client)
    assert viewer.get(f"{API}/providers/{provider['id']}/").status_code == 200
    assert viewer.post(f"{API}/providers/{provider['id']}/collect/").status_code == 403
