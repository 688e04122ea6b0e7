"""redfish:bmc's actions through the service against sushy-emulator: every declared
action run over the REST API, and the inventory showing its result afterwards."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from emulators.sushy import Sushy
from factories import API, all_resources, collect, create_provider, wait_for_action

USER, PASSWORD = "redfish-reader", "Bmc-s3cret-pass"
SYSTEM = "/redfish/v1/Systems/6695eb01-f6a4-8304-79aa-97f2502e193f"  # test:///default's


def run(client: TestClient, resource: dict[str, Any], name: str, **params: Any) -> dict[str, Any]:
    answer = client.post(
        f"{API}/resources/{resource['id']}/actions/{name}/", json={"params": params}
    )
    assert answer.status_code == 202, answer.text
    done = wait_for_action(client, answer.json()["id"])
    assert done["status"] == "completed", done
    return done


def now(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"{API}/resources/{resource['id']}/").json()
    return found


def test_every_action_runs_through_the_api_and_shows_in_the_inventory(
    client: TestClient, live_bmc: Sushy
) -> None:
    config = {"username": USER, "password": PASSWORD, "verify_ssl": False}
    provider = create_provider(
        client, name="rack-7 BMCs", infrastructure="bare_metal", vendor="redfish",
        provider_type="bmc", endpoint=live_bmc.url, connection_config=config,
    )  # fmt: skip
    assert collect(client, provider["id"])["status"] == "completed"
    system = next(
        r for r in all_resources(client, provider=provider["id"]) if r["ems_ref"] == SYSTEM
    )
    listing = client.get(f"{API}/resources/{system['id']}/actions/").json()

    rebooted = run(client, system, "reboot")
    cycled = run(client, system, "power_cycle")
    boot = run(client, system, "boot_device_set", device="pxe")
    booting = now(client, system)["properties"]
    described = run(client, system, "describe")
    off = run(client, system, "power_off")
    stopped = now(client, system)
    again = run(client, system, "power_off")
    run(client, system, "power_on")
    running = now(client, system)
    run(client, system, "shutdown", timeout=10)

    assert listing["profiles"] == ["core", "advanced"]
    assert {a["name"] for a in listing["actions"]} == {
        "power_on", "power_off", "shutdown", "reboot", "describe", "power_cycle",
        "boot_device_set",
    }  # fmt: skip
    assert rebooted["result"]["reset_type"] == "ForceRestart"
    assert cycled["result"]["method"] == "ForceOff, then On"
    assert boot["result"]["target"] == "Pxe" and booting["boot_source_override_target"] == "Pxe"
    assert described["result"]["ems_ref"] == SYSTEM
    assert off["result"]["changed"] is True and again["result"]["changed"] is False
    assert (stopped["state"], stopped["power_state"]) == ("stopped", "Off")
    assert (running["state"], running["power_state"]) == ("running", "On")
    assert (now(client, system)["state"], now(client, system)["power_state"]) == ("stopped", "Off")
    history = client.get(f"{API}/resources/{system['id']}/history/").json()["results"]
    assert any("Pxe" in str(entry["changes"]) for entry in history)  # the override's change
    assert PASSWORD not in str(described) + str(off)
