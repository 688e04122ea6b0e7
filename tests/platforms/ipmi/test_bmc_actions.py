"""ipmi:bmc's actions against ipmi_sim, in-process: each reaches the BMC (its chassis
records what it was asked), the next collection shows the power state, a repeated
power change changes nothing, and what cannot be done is refused by name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emulators.ipmi_sim import Bmc
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidParameter, NotFound, ProviderTimeout

ProviderFor = Callable[..., BaseProvider]


def server_of(provider: BaseProvider) -> ResourceData:
    with provider:
        return next(r for r in provider.collect() if r.ems_ref == "system")


def test_power_actions_reach_the_bmc_and_show_in_the_next_collection(
    bmc: Bmc, bmc_provider: ProviderFor
) -> None:
    provider = bmc_provider(bmc)

    assert provider.run_action("power_on", "system", {}) == {"changed": False, "power_state": "on"}
    assert provider.run_action("power_off", "system", {}) == {
        "changed": True, "power_state": "off", "before": "on",
    }  # fmt: skip
    assert provider.run_action("power_off", "system", {})["changed"] is False
    off = server_of(provider)
    assert provider.run_action("power_on", "system", {})["changed"] is True
    on = server_of(provider)
    assert provider.run_action("shutdown", "system", {"timeout": 10}) == {
        "changed": True, "power_state": "off", "before": "on",
    }  # fmt: skip
    assert provider.run_action("shutdown", "system", {})["changed"] is False
    provider.run_action("power_on", "system", {})
    rebooted = provider.run_action("reboot", "system", {})
    cycled = provider.run_action("power_cycle", "system", {"timeout": 10})

    assert (off.state, off.power_state, on.state, on.power_state) == (
        "stopped", "off", "running", "on",
    )  # fmt: skip
    assert rebooted == {"rebooted": "system", "method": "hard reset", "power_state": "on"}
    assert cycled == {"cycled": "system", "seen_off": True, "power_state": "on"}
    assert bmc.requests == [
        "power 0", "power 1", "shutdown 1", "power 1", "reset 1", "power 0", "power 1",
    ]  # fmt: skip
    assert server_of(provider).state == "running"


def test_a_shutdown_the_os_ignores_is_reported_not_hidden(
    bmc: Bmc, bmc_provider: ProviderFor
) -> None:
    bmc.ignore_soft_shutdown()
    provider = bmc_provider(bmc)

    with pytest.raises(ProviderTimeout, match=r"still powered on 1 s after the soft shutdown"):
        provider.run_action("shutdown", "system", {"timeout": 1})
    asked = provider.run_action("shutdown", "system", {"timeout": 0})
    with pytest.raises(InvalidParameter, match=r"params.timeout: must be 0 or more"):
        provider.run_action("shutdown", "system", {"timeout": -1})

    assert asked == {"changed": False, "requested": True, "power_state": "on"}
    assert bmc.requests == ["shutdown 1", "shutdown 1"] and bmc.power == "1"


def test_the_boot_device_reaches_the_bmc(bmc: Bmc, bmc_provider: ProviderFor) -> None:
    provider = bmc_provider(bmc)

    first = provider.run_action("boot_device_set", "system", {"device": "pxe"})
    pxe = bmc.boot
    provider.run_action("boot_device_set", "system", {"device": "bios", "persistent": True})
    bios = bmc.boot
    provider.run_action("boot_device_set", "system", {"device": "default"})

    assert first == {
        "boot_device": "pxe", "persistent": False,
        "before": {"boot_device": "default", "persistent": True},
    }  # fmt: skip
    # ipmi_sim keeps the device (in its own words), never the valid or persistent flag.
    assert (pxe, bios, bmc.boot) == ("pxe", "bios", "none")
    with pytest.raises(InvalidParameter, match=r"params.device: must be one of pxe, disk"):
        provider.run_action("boot_device_set", "system", {"device": "floppy"})
    with pytest.raises(InvalidParameter, match=r"params.device: required"):
        provider.run_action("boot_device_set", "system", {})


def test_what_cannot_be_done_is_refused_by_name(bmc: Bmc, bmc_provider: ProviderFor) -> None:
    provider = bmc_provider(bmc)

    for ref in ("bmc", "server-2"):
        with pytest.raises(NotFound, match=rf"no server '{ref}' behind this BMC"):
            provider.run_action("power_off", ref, {})
    provider.run_action("power_off", "system", {})
    for name in ("reboot", "power_cycle"):
        with pytest.raises(InvalidParameter, match=rf"{name}: the server is powered off"):
            provider.run_action(name, "system", {})

    assert provider.action_availability("reboot", {"state": "stopped"}) == (
        False, "the server is stopped, not running: power_on starts it",
    )  # fmt: skip
    assert provider.action_availability("power_cycle", {"state": "running"}) == (True, "")
    assert bmc.requests == ["power 0"]


def test_describe_answers_the_server_as_the_bmc_reports_it(
    shared_bmc: Bmc, bmc_provider: ProviderFor
) -> None:
    described = bmc_provider(shared_bmc).run_action("describe", "system", {})

    assert (described["ems_ref"], described["state"], described["power_state"]) == (
        "system", "running", "on",
    )  # fmt: skip
    assert described["properties"]["fru"]["serial_number"] == shared_bmc.serial
    assert shared_bmc.password not in str(described)
