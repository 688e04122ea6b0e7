"""Version policies, yank, delete, compatibility, upgrade preview and rollback
(docs/repository.md), with real archives, real plugin processes and real collections."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import API, collect, create_provider, fixture_plugin, tarball, upload

KEY = "hot:load"
VERSIONS = f"{API}/provider-plugins/{KEY}/versions"


def release(client: TestClient, tmp_path: Path, version: str, **manifest: Any) -> bytes:
    """Upload the hot_load fixture as ``version``; its VMs are named after the version."""
    prefix = "v" + version.replace(".", "")
    folder = fixture_plugin(
        "hot_load", tmp_path / version, constants={"PREFIX": prefix}, version=version, **manifest
    )
    data = tarball(folder)
    response = upload(client, data)
    assert response.status_code == 201, response.text
    return data


def provider(client: TestClient, name: str = "Hot", **body: Any) -> dict[str, Any]:
    return create_provider(client, name=name, vendor="hot", provider_type="load", **body)


def shown(client: TestClient, provider_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"{API}/providers/{provider_id}/").json()
    return answer


def names(client: TestClient, provider_id: int) -> list[str]:
    page = client.get(f"{API}/resources/", params={"provider": provider_id}).json()
    return sorted(r["name"] for r in page["results"])


def slot_pid(client: TestClient, provider_id: int) -> int:
    """The pid of the provider's long-lived process (connection tests)."""
    processes = client.get(f"{API}/plugin-processes/").json()["results"]
    pid: int = next(p["pid"] for p in processes if p["slot"] == f"provider:{provider_id}")
    return pid


def test_policies_resolve_ranges_pins_and_prereleases(client: TestClient, tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"):
        release(client, tmp_path, version)
    made = provider(client, plugin_version="~1.0")
    assert (made["plugin_version"], made["resolved_plugin_version"]) == ("~1.0", "1.0.0")

    expected = {
        ">=1.0,<2": "1.1.0",  # the highest release in range, not the pre-release
        "^1.0": "1.1.0",
        "~1.1.0": "1.1.0",
        ">=1.2.0-rc.1,<2": "1.2.0-rc.1",  # a policy naming a pre-release opts in
        "1.2.0-rc.1": "1.2.0-rc.1",
        None: "2.0.0",
    }
    for policy, resolved in expected.items():
        answer = client.patch(f"{API}/providers/{made['id']}/", json={"plugin_version": policy})
        assert answer.status_code == 200, answer.text
        assert answer.json()["resolved_plugin_version"] == resolved, policy

    pinned = client.post(f"{API}/providers/{made['id']}/pin/", json={"version": "1.0.0"})
    assert pinned.status_code == 200, pinned.text
    assert (pinned.json()["from_version"], pinned.json()["to_version"]) == ("2.0.0", "1.0.0")
    # A PUT that does not name plugin_version (as a seed client sends it) keeps the pin.
    body = {k: made[k] for k in ("name", "vendor", "provider_type", "endpoint", "organization")}
    put = client.put(f"{API}/providers/{made['id']}/", json={**body, "enabled": True})
    assert put.status_code == 200 and put.json()["plugin_version"] == "1.0.0", put.text
    run = collect(client, made["id"])
    assert run["status"] == "completed", run
    detail = client.get(f"{API}/provider-plugins/{KEY}/").json()
    sha = next(v["sha256"] for v in detail["versions"] if v["version"] == "1.0.0")
    assert (run["plugin_version"], run["plugin_sha256"], run["collector_version"]) == (
        "1.0.0",
        sha,
        "1.0.0",
    )
    assert names(client, made["id"]) == ["v100-vm-0", "v100-vm-1", "v100-vm-2"]

    # Listed highest first, pre-releases marked, the users named.
    listed = client.get(f"{VERSIONS}/").json()
    assert [v["version"] for v in listed] == ["2.0.0", "1.2.0-rc.1", "1.1.0", "1.0.0"]
    assert [v["prerelease"] for v in listed] == [False, True, False, False]
    assert listed[3]["used_by"] == [made["id"]] and listed[0]["used_by"] == []
    assert listed[3]["size"] > 0 and listed[3]["source"] == "local"


def test_bad_policies_are_refused_and_change_nothing(client: TestClient, tmp_path: Path) -> None:
    release(client, tmp_path, "1.0.0")
    release(client, tmp_path, "1.1.0")
    made = provider(client, plugin_version="1.0.0")
    before = shown(client, made["id"])
    for body, words in [
        ({"plugin_version": "~x"}, ["plugin_version", "'~x'"]),
        ({"plugin_version": ">=1.0,<<2"}, ["plugin_version", "'<2' is not a version"]),
        ({"plugin_version": ""}, ["plugin_version", "empty"]),
        ({"plugin_version": "~3"}, ["plugin_version", "'~3'", "1.0.0", "1.1.0"]),
        ({"plugin_version": "1.9.9"}, ["plugin_version", "1.9.9 is not installed"]),
    ]:
        answer = client.patch(f"{API}/providers/{made['id']}/", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert all(word in answer.json()["detail"] for word in words), answer.text
    for path, body in [
        ("pin/", {"version": "~1.0"}),
        ("pin/", {"version": "9.9.9"}),
        ("pin/", {"version": "1.1.0", "typo": 1}),
        ("pin/", {}),
        ("upgrade/", {"to": "~7"}),
        ("upgrade/", {"to": "1.1.0", "dry_run": "maybe"}),
        ("upgrade/", {"to": " "}),
    ]:
        answer = client.post(f"{API}/providers/{made['id']}/{path}", json=body)
        assert answer.status_code == 400, (path, body, answer.text)
    assert client.post(f"{API}/providers/999999/pin/", json={"version": "1.0.0"}).status_code == 404
    assert shown(client, made["id"]) == before
    # A provider of no installed plugin cannot be given a policy either.
    refused = client.post(
        f"{API}/providers/",
        json={"name": "x", "vendor": "acme", "provider_type": "cloud", "plugin_version": "1.0.0"},
    )
    assert refused.status_code == 400 and "no plugin is installed" in refused.json()["detail"]


def test_upgrade_previews_the_manifest_diff_then_applies(
    client: TestClient, tmp_path: Path
) -> None:
    release(client, tmp_path, "1.0.0")
    params = [
        {"name": "username", "type": "string", "required": False},
        {"name": "password", "type": "string", "required": False, "secret": True},
        {"name": "region", "type": "string", "required": True},
    ]
    release(
        client,
        tmp_path,
        "1.1.0",
        supported_resource_types=["virtual_machine", "hypervisor_host"],
        connection_parameters=params,
    )
    made = provider(client, plugin_version="1.0.0")

    preview = client.post(
        f"{API}/providers/{made['id']}/upgrade/", json={"to": "1.1.0", "dry_run": True}
    )
    assert preview.status_code == 200, preview.text
    answer = preview.json()
    assert (answer["from_version"], answer["to_version"], answer["dry_run"]) == (
        "1.0.0",
        "1.1.0",
        True,
    )
    diff = answer["diff"]
    assert diff["resource_types"] == {"added": ["hypervisor_host"], "removed": []}
    assert diff["connection_parameters"]["added"] == ["region"]
    assert diff["connection_parameters"]["newly_required"] == ["region"]
    assert diff["connection_parameters"]["removed"] == []
    assert diff["profiles"] == {"added": [], "removed": []}
    assert any("region" in w for w in answer["warnings"])
    assert shown(client, made["id"])["plugin_version"] == "1.0.0"  # nothing changed

    applied = client.post(f"{API}/providers/{made['id']}/upgrade/", json={"to": "~1.1"})
    assert applied.status_code == 200, applied.text
    after = shown(client, made["id"])
    assert (after["plugin_version"], after["resolved_plugin_version"]) == ("~1.1", "1.1.0")


def test_rollback_returns_a_provider_to_the_version_it_ran_before(
    client: TestClient, tmp_path: Path
) -> None:
    release(client, tmp_path, "1.0.0")
    made = provider(client)
    assert collect(client, made["id"])["plugin_version"] == "1.0.0"
    nothing = client.post(f"{API}/providers/{made['id']}/rollback/")
    assert nothing.status_code == 409 and "no earlier version" in nothing.json()["detail"]

    newer = release(client, tmp_path, "1.1.0")
    second = collect(client, made["id"])
    assert (second["plugin_version"], second["plugin_sha256"]) == (
        "1.1.0",
        hashlib.sha256(newer).hexdigest(),
    )

    assert client.post(f"{API}/providers/{made['id']}/test/").json()["ok"] is True
    newer_pid = slot_pid(client, made["id"])

    back = client.post(f"{API}/providers/{made['id']}/rollback/")
    assert back.status_code == 200, back.text
    assert (back.json()["from_version"], back.json()["to_version"]) == ("1.1.0", "1.0.0")
    assert shown(client, made["id"])["plugin_version"] == "1.0.0"
    third = collect(client, made["id"])
    # A process of 1.0.0 ran it, not the 1.1.0 one of the run before.
    assert third["plugin_version"] == "1.0.0", third
    assert "starting hot:load 1.0.0" in third["log"]
    assert names(client, made["id"]) == ["v100-vm-0", "v100-vm-1", "v100-vm-2"]
    # The provider's long-lived process of 1.1.0 is not reused for 1.0.0: replaced.
    assert client.post(f"{API}/providers/{made['id']}/test/").json()["ok"] is True
    assert slot_pid(client, made["id"]) != newer_pid

    # A rollback is undone by another: back to the version used before it.
    again = client.post(f"{API}/providers/{made['id']}/rollback/").json()
    assert (again["from_version"], again["to_version"]) == ("1.0.0", "1.1.0")


def test_rollback_of_a_plugin_moves_every_provider_or_none(
    client: TestClient, tmp_path: Path
) -> None:
    release(client, tmp_path, "1.0.0")
    first, second = provider(client, "A"), provider(client, "B")
    collect(client, first["id"])
    release(client, tmp_path, "1.1.0")
    collect(client, first["id"])

    refused = client.post(f"{API}/provider-plugins/{KEY}/rollback/")
    assert refused.status_code == 409, refused.text
    assert f"provider {second['id']} (B)" in refused.json()["detail"]
    assert shown(client, first["id"])["plugin_version"] is None  # all or none

    collect(client, second["id"])  # B ran 1.1.0 only: still nothing before it
    client.patch(f"{API}/providers/{second['id']}/", json={"plugin_version": "1.0.0"})
    collect(client, second["id"])
    client.post(f"{API}/providers/{second['id']}/unpin/")
    done = client.post(f"{API}/provider-plugins/{KEY}/rollback/")
    assert done.status_code == 200, done.text
    moved = {m["provider"]: (m["from_version"], m["to_version"]) for m in done.json()["providers"]}
    assert moved == {first["id"]: ("1.1.0", "1.0.0"), second["id"]: ("1.1.0", "1.0.0")}
    assert collect(client, second["id"])["plugin_version"] == "1.0.0"


def test_yank_unyank_and_delete_of_a_version(client: TestClient, tmp_path: Path) -> None:
    release(client, tmp_path, "1.0.0")
    release(client, tmp_path, "1.1.0")
    pinned, latest = provider(client, "A", plugin_version="1.1.0"), provider(client, "B")

    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x", "extra": 1}):
        answer = client.post(f"{VERSIONS}/1.1.0/yank/", json=body)
        assert answer.status_code == 400, (body, answer.text)
    assert client.get(f"{VERSIONS}/1.1.0/").json()["yanked"] is False
    assert client.post(f"{VERSIONS}/9.9.9/yank/", json={"reason": "x"}).status_code == 404

    yanked = client.post(f"{VERSIONS}/1.1.0/yank/", json={"reason": "loses disks"})
    assert yanked.status_code == 200, yanked.text
    assert (yanked.json()["yanked"], yanked.json()["yanked_reason"]) == (True, "loses disks")
    assert shown(client, latest["id"])["resolved_plugin_version"] == "1.0.0"
    kept = shown(client, pinned["id"])
    assert kept["resolved_plugin_version"] == "1.1.0"
    assert any("yanked (loses disks)" in w for w in kept["warnings"])
    run = collect(client, pinned["id"])
    assert run["plugin_version"] == "1.1.0" and "yanked (loses disks)" in run["log"]
    new_pin = client.post(f"{API}/providers/{latest['id']}/pin/", json={"version": "1.1.0"})
    assert new_pin.status_code == 400 and "yanked" in new_pin.json()["detail"]

    audit = client.get(f"{API}/audit/", params={"action": "provider-plugins.yank"}).json()
    newest = audit["results"][0]
    assert (newest["object_id"], newest["status"]) == (KEY, 200)
    assert client.post(f"{VERSIONS}/1.1.0/unyank/").json()["yanked"] is False
    assert shown(client, latest["id"])["resolved_plugin_version"] == "1.1.0"

    in_use = client.delete(f"{VERSIONS}/1.1.0/")
    assert in_use.status_code == 409, in_use.text
    assert f"{pinned['id']} (A)" in in_use.json()["detail"]
    assert f"{latest['id']} (B)" in in_use.json()["detail"]
    for made in (pinned, latest):
        client.post(f"{API}/providers/{made['id']}/pin/", json={"version": "1.0.0"})
    assert client.delete(f"{VERSIONS}/1.1.0/").status_code == 204
    assert [v["version"] for v in client.get(f"{VERSIONS}/").json()] == ["1.0.0"]
    assert client.get(f"{VERSIONS}/1.1.0/").status_code == 404

    builtin = client.delete(f"{API}/provider-plugins/simulated:datacenter/versions/1.0.0/")
    assert builtin.status_code == 409 and "read-only" in builtin.json()["detail"]


def test_an_incompatible_version_is_stored_unused_until_overridden(
    client: TestClient, tmp_path: Path
) -> None:
    release(client, tmp_path, "1.0.0", requires_estate=">=0.1,<1", protocol_versions=[1])
    folder = fixture_plugin("hot_load", tmp_path / "new", version="1.1.0", requires_estate=">=99")
    stored = upload(client, tarball(folder))
    assert stored.status_code == 201, stored.text
    compatibility = stored.json()["compatibility"]
    assert compatibility["compatible"] is False
    assert compatibility["problems"] == [
        "requires_estate '>=99' is not met by Estate " + compatibility["estate_version"]
    ]
    made = provider(client)
    assert shown(client, made["id"])["resolved_plugin_version"] == "1.0.0"
    refused = client.post(f"{API}/providers/{made['id']}/pin/", json={"version": "1.1.0"})
    assert refused.status_code == 400 and "requires_estate '>=99'" in refused.json()["detail"]

    for body in ({"override": True}, {"override": "yes", "reason": "x"}, {"reason": "x"}):
        answer = client.post(f"{VERSIONS}/1.1.0/compatibility/", json=body)
        assert answer.status_code == 400, (body, answer.text)
    overridden = client.post(
        f"{VERSIONS}/1.1.0/compatibility/", json={"override": True, "reason": "tested on 0.1"}
    )
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["compatibility"]["usable"] is True
    assert overridden.json()["compatibility"]["override_by"] == "admin"
    assert shown(client, made["id"])["resolved_plugin_version"] == "1.1.0"

    folder = fixture_plugin("hot_load", tmp_path / "wire", version="1.2.0", protocol_versions=[7])
    wire = upload(client, tarball(folder)).json()["compatibility"]
    assert wire["problems"] == ["protocol_versions [7] share none with the service's [1]"]
    bad = fixture_plugin("hot_load", tmp_path / "bad", version="1.3.0", requires_estate="soon")
    refused_upload = upload(client, tarball(bad))
    assert refused_upload.status_code == 400
    assert "manifest.yml: requires_estate" in refused_upload.json()["detail"]
