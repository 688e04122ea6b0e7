"""Lifecycle actions end to end: the real service, the simulated plugin in its child
process, the action run, and the targeted refresh that shows what the action did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import (
    API,
    all_resources,
    collect,
    create_provider,
    manifest,
    plugin_dir,
    tarball,
    upload,
    wait_for_action,
)


def _world(client: TestClient) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    provider = create_provider(client)
    collect(client, provider["id"])
    vms = {r["ems_ref"]: r for r in all_resources(client, resource_type="virtual_machine")}
    return provider, vms


def _run(client: TestClient, resource_id: int, name: str, /, **params: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/resources/{resource_id}/actions/{name}/", json={"params": params})
    assert answer.status_code == 202, answer.text
    return wait_for_action(client, answer.json()["id"])


def _resource(client: TestClient, resource_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"{API}/resources/{resource_id}/").json()
    return answer


def _running_vm(vms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(vm for vm in vms.values() if vm["state"] == "running")


def test_a_resource_lists_its_actions_with_why_not_now(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)

    listing = client.get(f"{API}/resources/{vm['id']}/actions/")

    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["profiles"] == ["core", "snapshot", "clone", "image", "advanced"]
    actions = {a["name"]: a for a in body["actions"]}
    assert {"power_on", "power_off", "shutdown", "snapshot_revert", "clone", "resize"} <= set(
        actions
    )
    assert "template_list" not in actions  # provider-level, listed on the provider
    assert actions["power_on"]["available"] and actions["power_on"]["idempotent"]
    assert actions["snapshot_revert"]["available"] is False
    assert "no snapshots" in actions["snapshot_revert"]["reason"]
    shutdown = actions["shutdown"]["params"]
    assert shutdown == [
        {"name": "timeout", "type": "integer", "required": False, "default": 300,
         "description": "seconds to wait", "secret": False, "choices": None}
    ]  # fmt: skip


def test_power_off_is_stopped_in_the_next_listing_with_history_of_the_refresh(
    client: TestClient,
) -> None:
    provider, vms = _world(client)
    vm = _running_vm(vms)

    run = _run(client, vm["id"], "power_off")

    assert run["status"] == "completed", run
    assert run["result"]["changed"] is True
    assert run["requested_by"] == "admin"
    refresh = client.get(f"{API}/collection-runs/{run['refresh_run']}/").json()
    # The action and its refresh record the exact version they ran, as every run does.
    assert run["plugin_version"] == refresh["plugin_version"] is not None
    assert run["plugin_sha256"] == refresh["plugin_sha256"] is not None
    assert refresh["collection_type"] == "targeted"
    assert refresh["target_resource_types"] == ["virtual_machine"]
    assert refresh["trigger"] == f"action:{run['id']}"
    listed = {r["id"]: r for r in all_resources(client, resource_type="virtual_machine")}
    assert listed[vm["id"]]["state"] == "stopped"
    history = client.get(f"{API}/resources/{vm['id']}/history/").json()["results"]
    assert history[0]["run"] == run["refresh_run"]
    assert history[0]["changes"]["state"] == {"from": "running", "to": "stopped"}
    runs = client.get(f"{API}/action-runs/", params={"provider": provider["id"]}).json()
    assert [r["id"] for r in runs["results"]] == [run["id"]]
    events = client.get(f"{API}/events/", params={"action_run": run["id"]}).json()["results"]
    assert [(e["type"], e["action_run"], e["run"]) for e in events] == [
        ("power.changed", run["id"], None)
    ]


def test_power_on_of_a_running_vm_succeeds_and_changes_nothing(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)

    run = _run(client, vm["id"], "power_on")

    assert run["status"] == "completed", run
    assert run["result"]["changed"] is False
    history = client.get(f"{API}/resources/{vm['id']}/history/").json()
    assert history["count"] == 1  # only its creation
    assert _resource(client, vm["id"])["state"] == "running"


def test_snapshot_revert_and_rollback_restore_the_recorded_state(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)

    assert _run(client, vm["id"], "snapshot_create", name="clean")["status"] == "completed"
    assert _run(client, vm["id"], "resize", cpu=32, memory_mb=1024)["status"] == "completed"
    assert _run(client, vm["id"], "power_off")["status"] == "completed"
    changed = _resource(client, vm["id"])
    assert (changed["state"], changed["cpu_count"], changed["memory_mb"]) == ("stopped", 32, 1024)

    reverted = _run(client, vm["id"], "snapshot_revert", snapshot="clean")

    assert reverted["status"] == "completed", reverted
    restored = _resource(client, vm["id"])
    assert (restored["state"], restored["cpu_count"], restored["memory_mb"]) == (
        "running", vm["cpu_count"], vm["memory_mb"],
    )  # fmt: skip
    assert _run(client, vm["id"], "power_off")["status"] == "completed"
    assert _run(client, vm["id"], "rollback")["status"] == "completed"
    assert _resource(client, vm["id"])["state"] == "running"
    snapshots = _run(client, vm["id"], "snapshot_list")["result"]
    assert [s["name"] for s in snapshots] == ["clean"]


def test_a_clone_appears_as_a_new_resource_with_its_relationships(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)

    run = _run(client, vm["id"], "clone", name="copy-of-it", mode="linked")

    assert run["status"] == "completed", run
    new_ref = run["result"]["ems_ref"]
    listed = {r["ems_ref"]: r for r in all_resources(client, resource_type="virtual_machine")}
    clone = client.get(f"{API}/resources/{listed[new_ref]['id']}/").json()
    assert clone["name"] == "copy-of-it"
    assert clone["state"] == "stopped"
    assert clone["properties"]["cloned_from"] == vm["ems_ref"]
    assert clone["properties"]["clone_mode"] == "linked"
    assert {r["relationship_type"] for r in clone["relationships"]} >= {"runs_on", "attached_to"}


def test_a_provider_level_action_creates_an_instance_with_its_labels(client: TestClient) -> None:
    provider, _ = _world(client)

    listing = client.get(f"{API}/providers/{provider['id']}/actions/").json()
    answer = client.post(
        f"{API}/providers/{provider['id']}/actions/instance_create/",
        json={
            "params": {"template": "rhel-9", "name": "ctf-1", "realm": "red", "labels": {"k": 1}}
        },
    )

    assert {a["name"] for a in listing["actions"]} == {
        "template_list",
        "instance_create",
        "image_list",
        "image_prepare",
    }
    assert answer.status_code == 202, answer.text
    run = wait_for_action(client, answer.json()["id"])
    assert run["status"] == "completed", run
    assert run["resource"] is None
    refresh = client.get(f"{API}/collection-runs/{run['refresh_run']}/").json()
    assert refresh["collection_type"] == "full"
    found = [r for r in all_resources(client) if r["name"] == "ctf-1"]
    assert found and found[0]["provider_tags"]["realm"] == "red"
    assert found[0]["provider_tags"]["template"] == "rhel-9"


def test_an_image_prepared_from_a_listed_one_is_an_image_resource_and_can_be_deleted(
    client: TestClient,
) -> None:
    provider, _ = _world(client)
    url = f"{API}/providers/{provider['id']}/actions"

    listed = _provider_run(client, f"{url}/image_list/", {})
    made = _provider_run(client, f"{url}/image_prepare/", {"source": "rhel-9", "name": "golden"})
    refused = client.post(f"{url}/image_prepare/", json={"params": {"source": "rhel-8"}})

    assert [i["name"] for i in listed["result"]] == ["ubuntu-22.04", "rhel-9"]
    assert made["result"]["name"] == "golden"
    (image,) = all_resources(client, resource_type="image")
    assert (image["name"], image["os_type"]) == ("golden", "linux")
    assert image["properties"]["source"] == "rhel-9"
    again = _provider_run(client, f"{url}/image_list/", {})
    assert "golden" in [i["name"] for i in again["result"]]
    assert refused.status_code == 202  # the plugin refuses the source: the run fails saying so
    failed = wait_for_action(client, refused.json()["id"])
    assert failed["status"] == "failed" and failed["error_kind"] == "invalid_parameter"
    assert "params.source: no image 'rhel-8'" in failed["error"]
    deleted = _run(client, image["id"], "delete")
    assert deleted["status"] == "completed", deleted
    assert all_resources(client, resource_type="image") == []


def _provider_run(client: TestClient, url: str, params: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(url, json={"params": params})
    assert answer.status_code == 202, answer.text
    run = wait_for_action(client, answer.json()["id"])
    assert run["status"] == "completed", run
    return run


def test_bad_parameters_answer_400_naming_them_and_store_nothing(client: TestClient) -> None:
    _, vms = _world(client)
    url = f"{API}/resources/{_running_vm(vms)['id']}/actions"

    cases = {
        "shutdown": ({"params": {"timeout": "soon"}}, "params.timeout: must be an integer"),
        "resize": ({"params": {"cpus": 2}}, "params.cpus: unknown parameter"),
        "snapshot_create": ({"params": {}}, "params.name: required"),
        "clone": ({"params": {"name": "x", "mode": "deep"}}, "params.mode: must be one of"),
        "power_off": ({"parms": {}}, "parms"),
    }
    for name, (body, expected) in cases.items():
        answer = client.post(f"{url}/{name}/", json=body)
        assert answer.status_code == 400, (name, answer.text)
        assert expected in answer.text, (name, answer.text)
    assert client.get(f"{API}/action-runs/").json()["count"] == 0


def test_an_unknown_action_answers_404_listing_the_actions(client: TestClient) -> None:
    _, vms = _world(client)

    answer = client.post(f"{API}/resources/{_running_vm(vms)['id']}/actions/explode/")

    assert answer.status_code == 404
    assert "no action 'explode'" in answer.text and "power_off" in answer.text


def test_an_action_not_available_now_answers_409_with_the_reason(client: TestClient) -> None:
    _, vms = _world(client)

    answer = client.post(
        f"{API}/resources/{_running_vm(vms)['id']}/actions/rollback/", json={"params": {}}
    )

    assert answer.status_code == 409
    assert "no snapshots" in answer.text


def test_a_viewer_may_list_but_not_run_actions(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)
    user = client.post(f"{API}/users/", json={"username": "v", "password": "viewer-pass"}).json()
    client.post(f"{API}/organizations/1/members/", json={"user": user["id"], "role": "viewer"})
    auth = ("v", "viewer-pass")

    listed = client.get(f"{API}/resources/{vm['id']}/actions/", auth=auth)
    refused = client.post(f"{API}/resources/{vm['id']}/actions/power_off/", auth=auth)

    assert listed.status_code == 200
    assert refused.status_code == 403
    assert client.get(f"{API}/action-runs/").json()["count"] == 0


def test_a_second_action_on_a_busy_resource_answers_409(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        from estate.db.models import ActionRun

        busy = ActionRun(
            provider_id=vm["provider"], resource_id=vm["id"], action="reboot", status="running"
        )
        session.add(busy)
        session.commit()
        busy_id = busy.id

    answer = client.post(f"{API}/resources/{vm['id']}/actions/power_off/")

    assert answer.status_code == 409
    assert f"action run {busy_id} (reboot) is running" in answer.text


def test_an_action_the_plugin_does_not_declare_fails_unsupported(client: TestClient) -> None:
    """Straight through the wire: the plugin answers kind ``unsupported``, never a no-op."""
    from estate.calls.actions import provider_call
    from estate.calls.events import EventRecorder
    from estate.calls.runlog import RunLog
    from estate.db.models import PluginVersion, Provider
    from estate.runtime.errors import PluginCallError

    provider, _ = _world(client)
    context = client.app.state.context  # type: ignore[attr-defined]
    log = RunLog()
    with context.sessions() as session:
        record = session.get(Provider, provider["id"])
        version = session.query(PluginVersion).filter_by(key="simulated:datacenter").one()
        events = EventRecorder(log, provider_id=record.id, run_id=None, plugin_key=record.key)
        for name, ref, kind in (("explode", "vm-000001", "unsupported"),
                                ("power_on", "vm-999999", "not_found")):  # fmt: skip
            try:
                provider_call(
                    context, record, version, "action",
                    {"name": name, "ems_ref": ref, "params": {}}, log=log, events=events,
                )  # fmt: skip
            except PluginCallError as exc:
                assert exc.kind == kind, (name, exc.kind, str(exc))
            else:
                raise AssertionError(f"{name} on {ref} did not fail")


def test_automations_list_the_resources_action_runs(client: TestClient) -> None:
    _, vms = _world(client)
    vm = _running_vm(vms)
    run = _run(client, vm["id"], "power_off")

    page = client.get(f"{API}/resources/{vm['id']}/automations/").json()

    assert page["count"] == 1
    (record,) = page["results"]
    assert (record["id"], record["aap_job_name"], record["aap_job_status"]) == (
        run["id"], "power_off", "completed",
    )  # fmt: skip
    assert record["automation_details"]["refresh_run"] == run["refresh_run"]
    assert record["organization"] == 1


def test_a_finished_run_cannot_be_canceled(client: TestClient) -> None:
    _, vms = _world(client)
    run = _run(client, _running_vm(vms)["id"], "describe")

    answer = client.post(f"{API}/action-runs/{run['id']}/cancel/")

    assert run["result"]["ems_ref"] == _running_vm(vms)["ems_ref"]
    assert answer.status_code == 409


def test_a_plugin_claiming_a_profile_it_does_not_implement_is_refused(
    client: TestClient, tmp_path: Path
) -> None:
    folder = plugin_dir(tmp_path / "claims", manifest_data=manifest(profiles=["snapshot"]))

    answer = upload(client, tarball(folder))

    assert answer.status_code == 400, answer.text
    assert "profiles[0]" in answer.text and "does not implement profile 'snapshot'" in answer.text
    assert "snapshot_create" in answer.text
    assert client.get(f"{API}/provider-plugins/myvendor:myplatform/").status_code == 404
