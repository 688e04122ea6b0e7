"""ipmi:bmc through the service, as seed 000's payload sets it up: a power change
tracked from one collection to the next, a BMC that hangs midway making the run partial
without deleting anything, and connection tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emulators.ipmi_sim import Bmc
from factories import API, all_resources, collect, create_provider, patch_config

BmcConfig = Callable[..., dict[str, Any]]
# The database is not what these tests are about (partial runs and connection tests are
# tested on both backends elsewhere): one backend keeps the emulator work to once.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def bmc_provider(client: TestClient, bmc: Bmc, config: dict[str, Any]) -> dict[str, Any]:
    return create_provider(
        client, name="Rack 4 node 7", infrastructure="bare_metal", vendor="ipmi",
        provider_type="bmc", endpoint=bmc.host, connection_config=config,
    )  # fmt: skip


def explain(client: TestClient, run: dict[str, Any]) -> dict[str, Any]:
    """The run with its log, for the message of a failed assertion."""
    detail: dict[str, Any] = client.get(f"{API}/collection-runs/{run['id']}/").json()
    return detail


def by_ref(client: TestClient, provider_id: int) -> dict[str, dict[str, Any]]:
    return {r["ems_ref"]: r for r in all_resources(client, provider=provider_id)}


def test_powering_the_server_off_is_a_modification_with_its_diff(
    client: TestClient, bmc: Bmc, bmc_config: BmcConfig
) -> None:
    provider = bmc_provider(client, bmc, bmc_config(bmc))
    first = collect(client, provider["id"])
    assert first["status"] == "completed", explain(client, first)
    before = by_ref(client, provider["id"])
    assert set(before) == {"system", "bmc"}
    assert (before["system"]["state"], before["system"]["power_state"]) == ("running", "on")

    bmc.ipmitool("chassis", "power", "off")
    second = collect(client, provider["id"])

    assert second["status"] == "completed", explain(client, second)
    assert (second["resources_updated"], second["resources_unchanged"]) == (1, 1)
    server = by_ref(client, provider["id"])["system"]
    latest = client.get(f"{API}/resources/{server['id']}/history/").json()["results"][0]
    assert latest["kind"] == "modified"
    assert latest["changes"] == {
        "state": {"from": "running", "to": "stopped"},
        "power_state": {"from": "on", "to": "off"},
    }


@SQLITE_ONLY
def test_a_bmc_that_hangs_midway_makes_the_run_partial_and_deletes_nothing(
    client: TestClient, bmc: Bmc, bmc_config: BmcConfig
) -> None:
    provider = bmc_provider(client, bmc, bmc_config(bmc, timeout=3))
    first = collect(client, provider["id"])
    assert first["status"] == "completed", explain(client, first)

    bmc.freeze_when_asked_the_boot_device()
    run = collect(client, provider["id"])

    assert run["status"] == "partial", explain(client, run)
    assert "the boot device" in run["error_message"]
    assert run["resources_deleted"] == 0
    assert set(by_ref(client, provider["id"])) == {"system", "bmc"}


@SQLITE_ONLY
def test_the_connection_test_reports_success_and_the_precise_failure(
    client: TestClient, shared_bmc: Bmc, bmc_config: BmcConfig
) -> None:
    provider = bmc_provider(client, shared_bmc, bmc_config(shared_bmc))
    test = f"{API}/providers/{provider['id']}/test/"

    ok = client.post(test).json()
    patch_config(client, provider["id"], **bmc_config(shared_bmc, password="wrong"))
    refused = client.post(test).json()
    patch_config(
        client, provider["id"], **bmc_config(shared_bmc, password="$encrypted$", port=9, timeout=1)
    )
    silent = client.post(test).json()

    assert (ok["ok"], ok["message"]) == (
        True, f"logged in to BMC 127.0.0.1:{shared_bmc.port}; the server is powered on",
    )  # fmt: skip
    assert refused["ok"] is False
    assert refused["message"].startswith("unauthenticated: BMC 127.0.0.1:")
    assert "Incorrect password" in refused["message"]
    assert silent["ok"] is False
    assert silent["message"] == (
        "unreachable: BMC 127.0.0.1:9 did not answer the login within 1 s: check the endpoint, "
        "the UDP port and that IPMI over LAN is enabled on the BMC"
    )
