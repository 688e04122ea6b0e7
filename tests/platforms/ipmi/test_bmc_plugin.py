"""ipmi:bmc against ipmi_sim, in-process: what a BMC tells about its server and itself,
power changes made with ipmitool, and each failure bounded and named."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from emulators.ipmi_sim import Bmc
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidConfig, Unauthenticated, Unreachable

ProviderFor = Callable[..., BaseProvider]


def collect_all(provider: BaseProvider) -> dict[str, ResourceData]:
    with provider:
        return {resource.ems_ref: resource for resource in provider.collect()}


def test_the_server_and_its_bmc_are_collected(shared_bmc: Bmc, bmc_provider: ProviderFor) -> None:
    provider = bmc_provider(shared_bmc)
    found = collect_all(provider)

    assert provider.incomplete_parts == []
    server, bmc = found["system"], found["bmc"]
    assert (server.resource_type_slug, server.state, server.power_state) == (
        "bare_metal",
        "running",
        "on",
    )
    assert server.canonical_id == shared_bmc.guid
    assert server.vendor_identifiers == {
        "serial_number": shared_bmc.serial,
        "system_guid": shared_bmc.guid,
    }
    assert server.properties["fru"] == {
        "manufacturer": "Acme", "product_name": "S1", "serial_number": shared_bmc.serial,
    }  # fmt: skip
    assert (server.properties["boot_device"], server.properties["boot_persistent"]) == (
        "default",
        True,
    )
    assert server.properties["sensors"] == {
        "CPU Temp": {"type": "Temperature", "health": "ok", "value": 45.0, "units": "°C"},
        "Fan 1": {"type": "Fan", "health": "ok", "value": 3200.0, "units": "RPM"},
    }
    assert server.properties["health"] == "ok"
    assert [dict(r) for r in server.relationships] == [
        {"target_ems_ref": "bmc", "relationship_type": "managed_by"}
    ]
    assert (bmc.resource_type_slug, bmc.name, bmc.state, bmc.os_name) == (
        "bmc", "BMC 127.0.0.1", "active", "BMC firmware 9.08",
    )  # fmt: skip
    assert bmc.properties["ipmi_version"] == "2.0"
    assert (bmc.properties["manufacturer_id"], bmc.properties["product_id"]) == (4753, 0xF02)


def test_power_off_is_mapped_and_the_word_kept(bmc: Bmc, bmc_provider: ProviderFor) -> None:
    bmc.ipmitool("chassis", "power", "off")

    server = collect_all(bmc_provider(bmc))["system"]

    assert bmc.power == "0"
    assert (server.state, server.power_state) == ("stopped", "off")


def test_sensors_can_be_left_out(shared_bmc: Bmc, bmc_provider: ProviderFor) -> None:
    server = collect_all(bmc_provider(shared_bmc, sensors=False))["system"]

    assert "sensors" not in server.properties and "health" not in server.properties
    assert server.properties["fru"]["serial_number"] == shared_bmc.serial


@pytest.mark.parametrize(
    ("username", "password", "refusal"),
    [
        ("admin", "not-the-password", "Incorrect password"),
        ("nobody", "bmc-secret", "Unauthorized name"),
    ],
)
def test_wrong_credentials_are_unauthenticated(
    shared_bmc: Bmc, bmc_provider: ProviderFor, username: str, password: str, refusal: str
) -> None:
    provider = bmc_provider(shared_bmc, username=username, password=password)
    started = time.monotonic()

    with pytest.raises(Unauthenticated, match=rf"refused the login of '{username}' \({refusal}"):
        collect_all(provider)

    assert time.monotonic() - started < 3
    ok, message = bmc_provider(
        shared_bmc, username=username, password=password
    ).validate_connection()
    assert not ok and message.startswith("unauthenticated: ")
    assert password not in message


def test_a_closed_udp_port_is_unreachable_within_the_timeout(
    bmc_provider: ProviderFor, bmc: Bmc
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    provider = bmc_provider(bmc, port=closed, timeout=1)
    started = time.monotonic()

    with pytest.raises(
        Unreachable, match=rf"127.0.0.1:{closed} did not answer the login within 1 s"
    ):
        collect_all(provider)

    assert time.monotonic() - started < 2.5


def test_a_bmc_that_stops_answering_midway_is_reported_incomplete_in_time(
    bmc: Bmc, bmc_provider: ProviderFor
) -> None:
    provider = bmc_provider(bmc, timeout=2)
    provider.connect()
    bmc.freeze_when_asked_the_boot_device()
    started = time.monotonic()

    try:
        found = {r.ems_ref: r for r in provider.collect()}
    finally:
        provider.disconnect()

    assert time.monotonic() - started < 4
    assert [part["part"] for part in provider.incomplete_parts] == [
        "the boot device", "the FRU inventory", "the firmware versions", "the sensors",
        "the BMC's LAN settings",
    ]  # fmt: skip
    assert "did not answer the boot device within 2 s" in provider.incomplete_parts[0]["error"]
    assert found["system"].power_state == "on"
    assert "boot_device" not in found["system"].properties


def test_a_validated_connection_says_what_it_saw(
    shared_bmc: Bmc, bmc_provider: ProviderFor
) -> None:
    provider = bmc_provider(shared_bmc)

    first = provider.validate_connection()
    again = provider.validate_connection()  # the same process logs in a second time

    expected = f"logged in to BMC 127.0.0.1:{shared_bmc.port}; the server is powered on"
    assert first == again == (True, expected)


@pytest.mark.parametrize(
    ("overrides", "endpoint", "error"),
    [
        ({"password": None}, "127.0.0.1", r"password: required"),
        ({"timeout": -1}, "127.0.0.1", r"timeout: must be a positive number of seconds"),
        ({"sensors": "yes"}, "127.0.0.1", r"sensors: must be true or false"),
        ({"port": 70000}, "127.0.0.1", r"port: must be 1-65535"),
        ({}, "", r"endpoint: required"),
        ({}, "https://bmc01/redfish", r"endpoint: 'https://bmc01/redfish' is not a BMC host"),
    ],
)
def test_bad_parameters_are_refused_with_the_fix(
    bmc_class: type[BaseProvider], overrides: dict[str, object], endpoint: str, error: str
) -> None:
    from inventory_providers.testing import make_provider

    config = {"username": "admin", "password": "x", **overrides}
    provider = make_provider(bmc_class, endpoint=endpoint, connection_config=config)

    with pytest.raises(InvalidConfig, match=error):
        provider.connect()
