"""Every operation of the OpenAPI document, called as each role, against the rules.

RULES is docs/security.md's table: for each operation, the lowest role it needs in
the organization of the object it addresses (organization A here), or ``SYSTEM``
(system administrators only), or ``ANY`` (every user; lists are filtered). A route
added without a rule fails :func:`test_every_operation_has_a_rule`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import API_PREFIX
from estate.db.models import (
    ActionRun,
    CollectionRun,
    CollectionSchedule,
    ConformanceRun,
    Event,
    Membership,
    PluginRepository,
    Resource,
    ResourceChange,
    Tag,
    Watchlist,
)
from estate.db.states import Role, RunStatus
from estate.inventory.relationship_list import edge_id
from estate.taxonomy import properties, vendor_types
from factories import API

ANY = "any user"
SYSTEM = "system admin"
Rule = Role | str

RULES: dict[tuple[str, str], Rule] = {
    ("get", "/"): ANY,
    ("get", "/ping/"): ANY,
    ("get", "/resource-types/"): ANY,
    ("get", "/resource-types/{slug}/"): ANY,
    ("get", "/resource-categories/"): ANY,
    ("get", "/resource-categories/{category}/"): ANY,
    ("get", "/vendor-type-mappings/"): ANY,
    ("get", "/vendor-type-mappings/{mapping_id}/"): ANY,
    ("get", "/property-definitions/"): ANY,
    ("get", "/property-definitions/{definition_id}/"): ANY,
    ("get", "/resource-relationships/"): ANY,
    ("get", "/resource-relationships/{relationship_id}/"): Role.VIEWER,
    ("get", "/organizations/"): ANY,
    ("post", "/organizations/"): SYSTEM,
    ("get", "/organizations/{organization_id}/"): Role.VIEWER,
    ("get", "/organizations/{organization_id}/members/"): Role.ADMIN,
    ("post", "/organizations/{organization_id}/members/"): Role.ADMIN,
    ("patch", "/organizations/{organization_id}/members/{user_id}/"): Role.ADMIN,
    ("delete", "/organizations/{organization_id}/members/{user_id}/"): Role.ADMIN,
    ("get", "/users/"): SYSTEM,
    ("post", "/users/"): SYSTEM,
    ("get", "/users/me/"): ANY,
    ("post", "/users/me/password/"): ANY,
    ("get", "/users/{user_id}/"): SYSTEM,  # or oneself
    ("patch", "/users/{user_id}/"): SYSTEM,
    ("delete", "/users/{user_id}/"): SYSTEM,
    ("post", "/users/{user_id}/password/"): SYSTEM,
    ("get", "/users/{user_id}/tokens/"): SYSTEM,
    ("get", "/audit/"): SYSTEM,
    ("get", "/tokens/"): ANY,
    ("post", "/tokens/"): ANY,
    ("delete", "/tokens/{token_id}/"): ANY,  # one's own: another's answers 404
    ("get", "/provider-plugins/"): ANY,
    ("get", "/provider-plugins/{key}/"): ANY,
    ("post", "/provider-plugins/upload/"): SYSTEM,
    ("post", "/provider-plugins/refresh/"): SYSTEM,
    ("delete", "/provider-plugins/{key}/"): SYSTEM,
    ("post", "/provider-plugins/{key}/test/"): SYSTEM,
    ("get", "/provider-plugins/{key}/versions/"): ANY,
    ("get", "/provider-plugins/{key}/versions/{version}/"): ANY,
    ("post", "/provider-plugins/{key}/versions/{version}/yank/"): SYSTEM,
    ("post", "/provider-plugins/{key}/versions/{version}/unyank/"): SYSTEM,
    ("post", "/provider-plugins/{key}/versions/{version}/compatibility/"): SYSTEM,
    ("delete", "/provider-plugins/{key}/versions/{version}/"): SYSTEM,
    ("post", "/provider-plugins/{key}/rollback/"): SYSTEM,
    ("get", "/provider-plugins/index/"): ANY,
    ("get", "/provider-plugins/available/"): SYSTEM,
    ("get", "/provider-plugins/{key}/versions/{version}/archive/"): ANY,
    ("post", "/provider-plugins/install/"): SYSTEM,
    ("get", "/repositories/"): SYSTEM,
    ("post", "/repositories/"): SYSTEM,
    ("get", "/repositories/{repository_id}/"): SYSTEM,
    ("put", "/repositories/{repository_id}/"): SYSTEM,
    ("patch", "/repositories/{repository_id}/"): SYSTEM,
    ("delete", "/repositories/{repository_id}/"): SYSTEM,
    ("post", "/repositories/{repository_id}/sync/"): SYSTEM,
    ("get", "/repositories/{repository_id}/plugins/"): SYSTEM,
    ("post", "/providers/{provider_id}/pin/"): SYSTEM,
    ("post", "/providers/{provider_id}/unpin/"): SYSTEM,
    ("post", "/providers/{provider_id}/upgrade/"): SYSTEM,
    ("post", "/providers/{provider_id}/rollback/"): SYSTEM,
    ("post", "/provider-plugins/{key}/conformance/"): SYSTEM,
    ("get", "/provider-plugins/{key}/conformance/"): SYSTEM,
    ("get", "/signing-keys/"): ANY,
    ("post", "/signing-keys/"): Role.ADMIN,  # of the body's organization; none: SYSTEM
    ("post", "/signing-keys/{key_id}/revoke/"): Role.ADMIN,  # installation-wide: SYSTEM
    ("get", "/conformance-runs/"): SYSTEM,
    ("get", "/conformance-runs/{conformance_run_id}/"): SYSTEM,
    ("get", "/catalog/"): ANY,
    ("get", "/catalog/{key}/"): ANY,
    ("get", "/catalog/{key}/badges/{profile}.svg"): ANY,
    ("get", "/providers/"): ANY,
    ("post", "/providers/"): Role.ADMIN,
    ("get", "/providers/{provider_id}/"): Role.VIEWER,
    ("put", "/providers/{provider_id}/"): Role.ADMIN,
    ("patch", "/providers/{provider_id}/"): Role.ADMIN,
    ("delete", "/providers/{provider_id}/"): Role.ADMIN,
    ("post", "/providers/{provider_id}/collect/"): Role.OPERATOR,
    ("post", "/providers/{provider_id}/test/"): Role.OPERATOR,
    ("get", "/providers/{provider_id}/schedules/"): Role.VIEWER,
    ("post", "/providers/{provider_id}/schedules/"): Role.ADMIN,
    ("get", "/providers/{provider_id}/schedules/{schedule_id}/"): Role.VIEWER,
    ("put", "/providers/{provider_id}/schedules/{schedule_id}/"): Role.ADMIN,
    ("patch", "/providers/{provider_id}/schedules/{schedule_id}/"): Role.ADMIN,
    ("delete", "/providers/{provider_id}/schedules/{schedule_id}/"): Role.ADMIN,
    ("post", "/providers/{provider_id}/schedules/{schedule_id}/trigger/"): Role.OPERATOR,
    ("get", "/collection-runs/"): ANY,
    ("get", "/collection-runs/{run_id}/"): Role.VIEWER,
    ("post", "/collection-runs/{run_id}/cancel/"): Role.OPERATOR,
    ("get", "/resources/"): ANY,
    ("get", "/resources/{resource_id}/"): Role.VIEWER,
    ("get", "/resources/{resource_id}/history/"): Role.VIEWER,
    ("get", "/resources/{resource_id}/drift/"): Role.VIEWER,
    ("get", "/resources/{resource_id}/sightings/"): Role.VIEWER,
    ("get", "/resource-drift/"): ANY,
    ("get", "/resource-drift/{change_id}/"): Role.VIEWER,
    ("get", "/resource-sightings/"): ANY,
    ("get", "/resource-sightings/{sighting_id}/"): Role.VIEWER,
    ("get", "/resources/{resource_id}/tags/"): Role.VIEWER,
    ("post", "/resources/{resource_id}/tags/add/"): Role.OPERATOR,
    ("post", "/resources/{resource_id}/tags/set/"): Role.OPERATOR,
    ("post", "/resources/{resource_id}/tags/remove/"): Role.OPERATOR,
    ("get", "/resources/{resource_id}/automations/"): Role.VIEWER,
    ("get", "/resources/{resource_id}/actions/"): Role.VIEWER,
    ("post", "/resources/{resource_id}/actions/{name}/"): Role.OPERATOR,
    ("get", "/providers/{provider_id}/actions/"): Role.VIEWER,
    ("post", "/providers/{provider_id}/actions/{name}/"): Role.OPERATOR,
    ("get", "/action-runs/"): ANY,
    ("get", "/action-runs/{action_run_id}/"): Role.VIEWER,
    ("post", "/action-runs/{action_run_id}/cancel/"): Role.OPERATOR,
    ("get", "/tags/"): ANY,
    ("post", "/tags/"): Role.ADMIN,
    ("get", "/tags/{tag_id}/"): Role.VIEWER,
    ("delete", "/tags/{tag_id}/"): Role.ADMIN,
    ("get", "/watchlists/"): ANY,
    ("post", "/watchlists/"): Role.OPERATOR,
    ("get", "/watchlists/{watchlist_id}/"): Role.VIEWER,
    ("put", "/watchlists/{watchlist_id}/"): Role.OPERATOR,
    ("patch", "/watchlists/{watchlist_id}/"): Role.OPERATOR,
    ("delete", "/watchlists/{watchlist_id}/"): Role.OPERATOR,
    ("get", "/watchlists/{watchlist_id}/resources/"): Role.VIEWER,
    ("post", "/watchlists/{watchlist_id}/resources/add/"): Role.OPERATOR,
    ("post", "/watchlists/{watchlist_id}/resources/remove/"): Role.OPERATOR,
    ("get", "/watchlists/{watchlist_id}/drift/"): Role.VIEWER,
    ("get", "/events/"): ANY,
    ("get", "/events/{event_id}/"): Role.VIEWER,
    ("get", "/plugin-apis/{key}/{path}"): ANY,
    ("post", "/plugin-apis/{key}/{path}"): SYSTEM,
    ("put", "/plugin-apis/{key}/{path}"): SYSTEM,
    ("patch", "/plugin-apis/{key}/{path}"): SYSTEM,
    ("delete", "/plugin-apis/{key}/{path}"): SYSTEM,
    ("get", "/plugin-processes/"): SYSTEM,
}

# Operations that take a path parameter from another entry of the world's params.
PARAMETERS = {("delete", "/users/{user_id}/"): {"user_id": "doomed_id"}}

# Allowed, yet answering 404 here: another user's token; a plugin without API routes.
ABSENT_ALLOWED = {("delete", "/tokens/{token_id}/")} | {
    (method, "/plugin-apis/{key}/{path}") for method in ("get", "post", "put", "patch", "delete")
}

# Two Ed25519 public keys (base64 of the raw 32 bytes): A's, and one an allowed import adds.
A_KEY = "1EyJYh3ALahY7zzzlG+RBLzo/MUcgtwU3ja44PUb8VM="
NEW_KEY = "L2jSascg37LTk9qtwzhzhDvVMdTYKjPwm56T53YHEqQ="

REPOSITORY = {"name": "upstream", "kind": "static", "url": "http://127.0.0.1:9/", "enabled": False}

PROVIDER = {
    "name": "A's cloud",
    "vendor": "acme",  # no plugin: connection tests answer at once
    "provider_type": "cloud",
    "connection_config": {"region": "north"},
}


@dataclass
class Caller:
    name: str
    auth: tuple[str, str]
    role: Role | None  # in organization A
    is_system: bool = False


def _operations(client: TestClient) -> list[tuple[str, str]]:
    return [
        (method, template.removeprefix(API_PREFIX))
        for template, operations in client.app.openapi()["paths"].items()
        for method in operations
    ]


def test_every_operation_has_a_rule(client: TestClient) -> None:
    missing = sorted(set(_operations(client)) - set(RULES))
    assert not missing, f"no role rule for {missing}: add one to RULES here and to docs/security.md"
    assert set(RULES) <= set(_operations(client)), "RULES names an operation that is gone"


def _user(client: TestClient, username: str, role: Role | None, organization: int) -> Caller:
    created = client.post(f"{API}/users/", json={"username": username, "password": "pw-" * 4})
    assert created.status_code == 201, created.text
    if role is not None:
        added = client.post(
            f"{API}/organizations/{organization}/members/",
            json={"user": created.json()["id"], "role": role},
        )
        assert added.status_code == 201, added.text
    return Caller(username, (username, "pw-" * 4), role)


def _world(client: TestClient) -> tuple[list[Caller], dict[str, Any], int]:
    """Organizations A and B, a caller per role, and A's provider, runs, resource, event."""
    a = client.post(f"{API}/organizations/", json={"name": "A"}).json()["id"]
    b = client.post(f"{API}/organizations/", json={"name": "B"}).json()["id"]
    callers = [
        _user(client, "outsider", None, a),
        _user(client, "a-viewer", Role.VIEWER, a),
        _user(client, "a-operator", Role.OPERATOR, a),
        _user(client, "a-admin", Role.ADMIN, a),
        Caller("system", ("admin", ADMIN_PASSWORD), None, is_system=True),
    ]
    outsider_id = client.get(f"{API}/users/me/", auth=callers[0].auth).json()["id"]
    client.post(f"{API}/organizations/{b}/members/", json={"user": outsider_id, "role": "admin"})
    spare = _user(client, "a-spare", Role.VIEWER, a)
    provider = client.post(f"{API}/providers/", json={**PROVIDER, "organization": a}).json()
    now = datetime.now(UTC)
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        done = CollectionRun(provider_id=provider["id"], status=RunStatus.COMPLETED)
        # Never submitted: it keeps the provider busy, so allowed collects and
        # deletes answer 409 and change nothing.
        busy = CollectionRun(provider_id=provider["id"], status=RunStatus.RUNNING)
        session.add_all([done, busy])
        session.flush()
        resource = Resource(
            provider_id=provider["id"],
            ems_ref="vm-1",
            resource_type="virtual_machine",
            state="active",
            content_hash="h",
            first_seen_run_id=done.id,
            first_seen_at=now,
            updated_at=now,
            relationships=[["host-1", "runs_on"]],
        )
        event = Event(provider_id=provider["id"], run_id=done.id, type="t", severity="info")
        schedule = CollectionSchedule(
            provider_id=provider["id"], name="nightly", cron_expression="0 2 * * *", enabled=False
        )
        session.add_all([resource, event, schedule])
        session.flush()
        # Pending and never submitted: an allowed cancel ends it, the next answers 409.
        action_run = ActionRun(
            provider_id=provider["id"], resource_id=resource.id, ems_ref="vm-1", action="reboot"
        )
        session.add(action_run)
        session.flush()
        change = ResourceChange(
            resource_id=resource.id, run_id=done.id, kind="deleted", changed_at=now
        )
        session.add(change)
        conformance = ConformanceRun(
            plugin_key="simulated:datacenter",
            plugin_version="1.0.0",
            plugin_sha256="0" * 64,
            provider_id=provider["id"],
            status=RunStatus.FAILED,
        )
        session.add(conformance)
        session.commit()
        ids = {
            "resource_id": resource.id,
            "event_id": event.id,
            "run_id": done.id,
            "schedule_id": schedule.id,
            "change_id": change.id,
            "sighting_id": f"{resource.id}-0",
            "action_run_id": action_run.id,
            "conformance_run_id": conformance.id,
        }
    spare_id = client.get(f"{API}/users/me/", auth=spare.auth).json()["id"]
    doomed = _user(client, "a-doomed", Role.VIEWER, a)  # the one user a DELETE removes
    doomed_id = client.get(f"{API}/users/me/", auth=doomed.auth).json()["id"]
    token = client.post(f"{API}/tokens/", json={"name": "system's"}).json()["id"]
    tag = client.post(f"{API}/tags/", json={"namespace": "ops", "key": "env", "organization": a})
    watchlist = client.post(f"{API}/watchlists/", json={"name": "A's", "organization": a})
    signing_key = client.post(
        f"{API}/signing-keys/", json={"name": "A's", "public_key": A_KEY, "organization": a}
    )
    # Disabled: an allowed sync answers 409 and contacts nothing.
    repository = client.post(f"{API}/repositories/", json=REPOSITORY).json()
    params = {
        "repository_id": repository["id"],
        "organization_id": a,
        "provider_id": provider["id"],
        "user_id": spare_id,
        "token_id": token,
        "key": "simulated:datacenter",
        "version": "1.0.0",  # built in: read-only, so an allowed write answers 409
        "slug": "virtual_machine",
        "path": "status",
        "name": "power_off",  # the plugin-less provider answers 409: nothing runs
        "profile": "core",
        "doomed_id": doomed_id,
        "tag_id": tag.json()["id"],
        "watchlist_id": watchlist.json()["id"],
        "key_id": signing_key.json()["key_id"],
        "category": "compute",
        "mapping_id": vendor_types.BUILT_IN[0].id,
        "definition_id": properties.PROPERTY_DEFINITIONS[0].id,
        "relationship_id": edge_id(ids["resource_id"], "runs_on", "host-1"),
        **ids,
    }
    return callers, params, a


def _bodies(
    a: int, viewer_id: int, resource_id: int, provider_id: int
) -> dict[tuple[str, str], dict[str, Any]]:
    tags = {"json": [{"namespace": "ops", "key": "env", "value": "prod"}]}
    members = {"json": {"resource_ids": [resource_id]}}
    return {
        ("post", "/tags/"): {"json": {"namespace": "ops", "key": "tier", "organization": a}},
        ("post", "/resources/{resource_id}/tags/add/"): tags,
        ("post", "/resources/{resource_id}/tags/set/"): tags,
        ("post", "/resources/{resource_id}/tags/remove/"): {"json": [{"key": "env"}]},
        ("post", "/watchlists/"): {"json": {"name": "New", "organization": a}},
        ("put", "/watchlists/{watchlist_id}/"): {"json": {"name": "W", "organization": a}},
        ("patch", "/watchlists/{watchlist_id}/"): {"json": {}},
        ("post", "/watchlists/{watchlist_id}/resources/add/"): members,
        ("post", "/watchlists/{watchlist_id}/resources/remove/"): members,
        ("post", "/organizations/"): {"json": {"name": "C"}},
        ("post", "/organizations/{organization_id}/members/"): {
            "json": {"user": viewer_id, "role": "viewer"}  # a member already: 400
        },
        ("patch", "/organizations/{organization_id}/members/{user_id}/"): {
            "json": {"role": "viewer"}
        },
        ("post", "/users/"): {"json": {"username": "newcomer", "password": "newcomer-pw"}},
        ("post", "/tokens/"): {"json": {"name": "t"}},
        ("post", "/providers/"): {"json": {**PROVIDER, "name": "New", "organization": a}},
        ("put", "/providers/{provider_id}/"): {"json": {**PROVIDER, "organization": a}},
        ("patch", "/providers/{provider_id}/"): {"json": {}},
        ("post", "/providers/{provider_id}/schedules/"): {
            "json": {"name": "hourly", "cron_expression": "0 * * * *", "enabled": False}
        },
        ("put", "/providers/{provider_id}/schedules/{schedule_id}/"): {
            "json": {"name": "nightly", "cron_expression": "0 2 * * *", "enabled": False}
        },
        ("patch", "/providers/{provider_id}/schedules/{schedule_id}/"): {"json": {}},
        # The provider is another plugin's: an allowed request answers 400, nothing runs.
        ("post", "/provider-plugins/{key}/conformance/"): {"json": {"provider": provider_id}},
        # The first allowed caller imports or revokes; the next ones answer 409.
        ("post", "/signing-keys/"): {
            "json": {"name": "new", "public_key": NEW_KEY, "organization": a}
        },
        ("post", "/signing-keys/{key_id}/revoke/"): {"json": {"reason": "rotated"}},
        # The provider is another plugin's (none installed): an allowed request answers 400.
        ("post", "/providers/{provider_id}/pin/"): {"json": {"version": "1.0.0"}},
        ("post", "/providers/{provider_id}/upgrade/"): {"json": {"to": "1.0.0", "dry_run": True}},
        ("post", "/provider-plugins/{key}/versions/{version}/yank/"): {"json": {"reason": "r"}},
        ("post", "/provider-plugins/{key}/versions/{version}/compatibility/"): {
            "json": {"override": True, "reason": "r"}
        },
        # The first allowed caller registers it; the next ones answer 409 (the name is taken).
        ("post", "/repositories/"): {"json": {**REPOSITORY, "name": "second"}},
        ("put", "/repositories/{repository_id}/"): {"json": REPOSITORY},
        ("patch", "/repositories/{repository_id}/"): {"json": {}},
        # An unreadable version policy: an allowed request answers 400, nothing is fetched.
        ("post", "/provider-plugins/install/"): {"json": {"key": "hot:load", "version": "~x"}},
        ("post", "/provider-plugins/upload/"): {
            "files": {"plugin": ("p.tar.gz", b"not an archive", "application/gzip")}
        },
    }


def _allowed(rule: Rule, caller: Caller) -> bool:
    if caller.is_system or rule == ANY:
        return True
    if rule == SYSTEM:
        return False
    return caller.role is not None and caller.role.covers(Role(rule))


def _denial(rule: Rule, caller: Caller, template: str) -> int:
    """What a refused call answers: 404 for an object of an organization the caller
    cannot see, 400 naming the body's invisible organization, else 403."""
    if rule in (ANY, SYSTEM) or caller.role is not None:
        return 403
    return 404 if "{" in template else 400


def test_each_role_may_do_what_the_rules_say_and_nothing_more(client: TestClient) -> None:
    callers, params, a = _world(client)
    viewer_id = client.get(f"{API}/users/me/", auth=callers[1].auth).json()["id"]
    bodies = _bodies(a, viewer_id, params["resource_id"], params["provider_id"])
    anonymous = TestClient(client.app)
    wrong = []
    document = client.app.openapi()["paths"]
    for method, template in _operations(client):
        rule = RULES[(method, template)]
        documented = document[API_PREFIX + template][method]["responses"]
        path = API + _path(template, params, PARAMETERS.get((method, template), {}))
        for caller in callers:
            response = anonymous.request(
                method, path, auth=caller.auth, **bodies.get((method, template), {})
            )
            code = response.status_code
            if str(code) not in documented:
                wrong.append((method, template, caller.name, "undocumented", code, response.text))
            if _allowed(rule, caller):
                refused = code in (401, 403) or (
                    code == 404 and (method, template) not in ABSENT_ALLOWED
                )
                if refused or code >= 500:
                    wrong.append((method, template, caller.name, "allowed", code, response.text))
            elif code != _denial(rule, caller, template):
                wrong.append((method, template, caller.name, "denied", code, response.text))
            if (method, template, code) == (
                "delete",
                "/organizations/{organization_id}/members/{user_id}/",
                204,
            ):
                _restore_spare(client, params)
            if (method, template, code) == (
                "delete",
                "/providers/{provider_id}/schedules/{schedule_id}/",
                204,
            ):
                _restore_schedule(client, params)
            elif code == 204 and template in _RESTORED:
                _restore(client, _RESTORED[template], params, a)
    assert not wrong, "\n".join(map(str, wrong))


def _path(template: str, params: dict[str, Any], names: dict[str, str]) -> str:
    """``template`` with each ``{name}`` filled from ``params`` (under ``names``' key)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(params[names.get(m.group(1), m.group(1))]), template)


def _restore_spare(client: TestClient, params: dict[str, Any]) -> None:
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        session.add(
            Membership(user_id=params["user_id"], organization_id=params["organization_id"])
        )
        session.commit()


def _restore_schedule(client: TestClient, params: dict[str, Any]) -> None:
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        session.add(
            CollectionSchedule(
                id=params["schedule_id"],
                provider_id=params["provider_id"],
                name="nightly",
                cron_expression="0 2 * * *",
                enabled=False,
            )
        )
        session.commit()


_RESTORED = {
    "/tags/{tag_id}/": "tag_id",
    "/watchlists/{watchlist_id}/": "watchlist_id",
    "/repositories/{repository_id}/": "repository_id",
}


def _restore(client: TestClient, name: str, params: dict[str, Any], organization: int) -> None:
    """Put back, under its id, the tag, watchlist or repository an allowed DELETE removed."""
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        if name == "repository_id":
            session.add(PluginRepository(id=params[name], **REPOSITORY))
        elif name == "tag_id":
            session.add(
                Tag(id=params[name], organization_id=organization, namespace="ops", key="env")
            )
        else:
            session.add(Watchlist(id=params[name], organization_id=organization, name="A's"))
        session.commit()


PUBLIC_PAGES = {"/docs", "/redoc", "/openapi.json", "/static/docs", "/static/web", "/login"}
# The web UI (docs/ui.md): every page and stream needs a session; its buttons call the API.
WEB_PAGES = {
    "/", "/logout", "/providers", "/providers/{provider_id}", "/providers/new",
    "/providers/{provider_id}/edit", "/runs", "/runs/{run_id}",
    "/resources", "/resources/{resource_id}", "/resources/{resource_id}/actions",
    "/live/dashboard", "/live/providers/{provider_id}", "/live/runs/{run_id}",
    "/live/resources/{resource_id}", "/watchlists", "/watchlists/{watchlist_id}",
    "/plugins", "/live/plugins", "/catalog", "/catalog/{key}", "/events",
    "/admin", "/admin/users", "/admin/organizations", "/admin/organizations/{organization_id}",
    "/admin/tokens", "/admin/audit", "/admin/repositories", "/admin/repositories/{repository_id}",
}  # fmt: skip


def _every_route(app: Any) -> set[str]:
    """The path of every route the app serves, those of included routers with their prefix."""
    found: set[str] = set()
    for route in app.routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            prefix = route.include_context.prefix  # the API's, or none (the web UI's)
            found |= {prefix + sub.path for sub in included.routes}
        else:
            found.add(route.path)
    return {re.sub(r"\{(\w+):\w+\}", r"{\1}", path) for path in found}


def test_every_route_outside_the_document_is_a_public_docs_page(
    client: TestClient, anonymous: TestClient
) -> None:
    """The role matrix covers the document; what it leaves out is the documentation itself
    and the web UI, whose every page needs a session (its buttons call the API)."""
    documented = set(client.app.openapi()["paths"])

    outside = _every_route(client.app) - documented

    assert outside == PUBLIC_PAGES | WEB_PAGES
    for page in ("/docs", "/redoc", "/openapi.json", "/login"):
        assert anonymous.get(page).status_code == 200
    for page in sorted(WEB_PAGES - {"/logout"}):
        answer = anonymous.get(re.sub(r"\{\w+\}", "1", page), follow_redirects=False)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/login?next="), page
    assert anonymous.get(f"{API}/providers/").status_code == 401
