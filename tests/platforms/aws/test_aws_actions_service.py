"""aws:aws's actions through the REST API: the plugin's long-lived child process acts on
moto, and the refresh after each action shows its effect in the inventory.

One provider made with seed 000's body (read only EC2, EBS and VPC, so each refresh is
quick), one instance, every declared action in turn. SQLite only, as the folder's
other service tests (conftest.py says why).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from emulators.moto import MotoServer
from factories import API, all_resources, collect, patch_config, wait_for_action
from platforms.aws.estate import AMI
from platforms.aws.plugin import SEED_BODY, SEED_CONFIG, seed_provider
from platforms.aws.test_aws_actions import instance


def run(client: TestClient, where: str, name: str, /, **params: Any) -> dict[str, Any]:
    answer = client.post(f"{API}/{where}/actions/{name}/", json={"params": params})
    assert answer.status_code == 202, answer.text
    done = wait_for_action(client, answer.json()["id"])
    assert done["status"] == "completed", done
    return done


def resource(client: TestClient, resource_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"{API}/resources/{resource_id}/").json()
    return answer


def test_every_action_through_the_api_shows_its_effect_in_the_inventory(
    client: TestClient, aws: MotoServer
) -> None:
    ref = instance(aws)
    provider = seed_provider(client)
    patch_config(client, provider, **SEED_CONFIG, services=["ec2", "ebs", "vpc"])
    assert collect(client, provider)["status"] == "completed"
    (vm,) = all_resources(client, provider=provider, resource_type="virtual_machine")
    on_vm = f"resources/{vm['id']}"

    listing = client.get(f"{API}/{on_vm}/actions/").json()
    offered = {a["name"]: a for a in listing["actions"]}
    assert listing["profiles"] == ["core", "snapshot"]
    assert set(offered) == {
        "power_on", "power_off", "shutdown", "reboot", "describe", "delete",
        "snapshot_create", "snapshot_list", "snapshot_revert", "snapshot_delete", "rollback",
    }  # fmt: skip
    assert (offered["rollback"]["available"], offered["rollback"]["reason"]) == (
        False,
        "the instance has no snapshots",
    )

    assert run(client, on_vm, "power_off")["result"]["changed"] is True
    assert resource(client, vm["id"])["state"] == "stopped"
    assert run(client, on_vm, "power_on")["result"]["state"] == "running"
    assert resource(client, vm["id"])["state"] == "running"
    assert run(client, on_vm, "reboot")["result"] == {"rebooted": ref, "state": "running"}
    assert run(client, on_vm, "describe")["result"]["ems_ref"] == ref
    taken = run(client, on_vm, "snapshot_create", name="clean")["result"]
    assert resource(client, vm["id"])["properties"]["snapshots"] == ["clean"]
    listed = run(client, on_vm, "snapshot_list")["result"]
    assert [(s["name"], s["power_state"]) for s in listed] == [("clean", "running")]
    assert run(client, on_vm, "shutdown", timeout=60)["result"]["changed"] is True
    assert resource(client, vm["id"])["state"] == "stopped"
    root = resource(client, vm["id"])["properties"]["block_devices"][0]["volume_id"]

    reverted = run(client, on_vm, "snapshot_revert", snapshot="clean")
    after = resource(client, vm["id"])

    assert after["state"] == "running"  # as it was when "clean" was taken
    (swapped,) = reverted["result"]["volumes"]
    assert swapped["old_volume_id"] == root == taken["volumes"][0]["volume_id"]
    assert after["properties"]["block_devices"] == [
        {"device": "/dev/sda1", "volume_id": swapped["volume_id"]}
    ]
    history = client.get(f"{API}/{on_vm}/history/").json()["results"]
    assert history[0]["run"] == reverted["refresh_run"]
    assert run(client, on_vm, "rollback")["result"]["reverted_to"] == "clean"
    run(client, on_vm, "snapshot_delete", snapshot="clean")
    assert "snapshots" not in resource(client, vm["id"])["properties"]

    made = run(client, f"providers/{provider}", "create", name="api", image=AMI)["result"]
    created = {r["ems_ref"]: r for r in all_resources(client, provider=provider)}
    new = resource(client, created[made["ems_ref"]]["id"])
    assert (new["name"], new["state"]) == ("api", "running")
    assert {e["relationship_type"] for e in new["relationships"]} >= {"member_of", "attached_to"}
    assert all(e["resource_id"] for e in new["relationships"])  # VPC, subnet, group, volume

    run(client, on_vm, "delete")
    assert resource(client, vm["id"])["state"] == "terminated"
    runs = client.get(f"{API}/action-runs/", params={"provider": provider, "page_size": 50})
    assert SEED_BODY["connection_config"]["password"] not in runs.text  # type: ignore[index]
