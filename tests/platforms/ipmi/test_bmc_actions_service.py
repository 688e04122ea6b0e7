"""ipmi:bmc's actions through the service against ipmi_sim: every declared action run
over the REST API, and the inventory showing its result afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulators.ipmi_sim import Bmc
from factories import API, all_resources, collect, create_provider, wait_for_action

BmcConfig = Callable[..., dict[str, Any]]
# One backend, as the folder's other service tests: the action runs and their refreshes
# are tested on both in tests/api/test_actions.py; here it is the plugin that is tested.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def run(client: TestClient, resource: dict[str, Any], name: str, **params: Any) -> dict[str, Any]:
    answer = client.post(
        f"{API}/resources/{resource['id']}/actions/{name}/", json={"params": params}
    )
    assert answer.status_code == 202, answer.text
    done = wait_for_action(client, answer.json()["id"])
    assert done["status"] == "completed", done
    return done


def state_of(client: TestClient, resource: dict[str, Any]) -> tuple[str, str]:
    now = client.get(f"{API}/resources/{resource['id']}/").json()
    return now["state"], now["power_state"]


@SQLITE_ONLY
def test_every_action_runs_through_the_api_and_shows_in_the_inventory(
    client: TestClient, bmc: Bmc, bmc_config: BmcConfig
) -> None:
    provider = create_provider(
        client, name="Rack 4 node 7", infrastructure="bare_metal", vendor="ipmi",
        provider_type="bmc", endpoint=bmc.host, connection_config=bmc_config(bmc),
    )  # fmt: skip
    assert collect(client, provider["id"])["status"] == "completed"
    server = next(
        r for r in all_resources(client, provider=provider["id"]) if r["ems_ref"] == "system"
    )
    listing = client.get(f"{API}/resources/{server['id']}/actions/").json()

    rebooted = run(client, server, "reboot")
    cycled = run(client, server, "power_cycle", timeout=10)
    boot = run(client, server, "boot_device_set", device="pxe", persistent=True)
    described = run(client, server, "describe")
    off = run(client, server, "power_off")
    stopped = state_of(client, server)
    again = run(client, server, "power_off")
    offered = client.get(f"{API}/resources/{server['id']}/actions/").json()["actions"]
    run(client, server, "power_on")
    running = state_of(client, server)
    run(client, server, "shutdown", timeout=10)

    assert listing["profiles"] == ["core", "advanced"]
    assert {a["name"] for a in listing["actions"]} == {
        "power_on", "power_off", "shutdown", "reboot", "describe", "power_cycle",
        "boot_device_set",
    }  # fmt: skip
    assert off["result"] == {"changed": True, "power_state": "off", "before": "on"}
    assert stopped == ("stopped", "off") and state_of(client, server) == ("stopped", "off")
    assert again["result"] == {"changed": False, "power_state": "off"}
    reboot_offered = next(a for a in offered if a["name"] == "reboot")
    assert (reboot_offered["available"], reboot_offered["reason"]) == (
        False, "the server is stopped, not running: power_on starts it",
    )  # fmt: skip
    assert running == ("running", "on")
    assert rebooted["result"]["method"] == "hard reset"
    assert cycled["result"]["seen_off"] is True
    assert boot["result"]["boot_device"] == "pxe" and bmc.boot == "pxe"
    assert described["result"]["ems_ref"] == "system"
    assert bmc.requests == [
        "reset 1", "power 0", "power 1", "boot pxe", "power 0", "power 1", "shutdown 1",
    ]  # fmt: skip
    history = client.get(f"{API}/resources/{server['id']}/history/").json()["results"]
    assert {"from": "running", "to": "stopped"} in [
        (h["changes"] or {}).get("state") for h in history
    ]
    assert bmc.password not in str(described)
