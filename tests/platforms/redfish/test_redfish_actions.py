"""redfish:bmc's actions against sushy-emulator, in-process: each acts through Redfish,
the next collection shows it, a repeated power change changes nothing, and what the
BMC does not offer is refused by name (sushy answers 204 to any ResetType)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import REPO
from emulators.sushy import Sushy
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidParameter, NotFound
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider

USER, PASSWORD = "redfish-reader", "Bmc-s3cret-pass"
SYSTEM = "/redfish/v1/Systems/6695eb01-f6a4-8304-79aa-97f2502e193f"  # test:///default's
MANAGER = SYSTEM.replace("Systems", "Managers")


def provider_for(bmc: Sushy) -> BaseProvider:
    cls = load_class(REPO / "plugins" / "redfish" / "bmc", "provider.RedfishBmcProvider")
    config = {"username": USER, "password": PASSWORD}
    return make_provider(cls, endpoint=bmc.url, connection_config=config)


def system_of(provider: BaseProvider) -> ResourceData:
    with provider:
        return next(r for r in provider.collect() if r.ems_ref == SYSTEM)


def act(provider: BaseProvider, name: str, **params: Any) -> Any:
    return provider.run_action(name, SYSTEM, params)


def test_power_actions_act_and_show_in_the_next_collection(live_bmc: Sushy) -> None:
    provider = provider_for(live_bmc)

    assert act(provider, "power_on") == {"changed": False, "power_state": "On"}
    assert act(provider, "power_off") == {
        "changed": True, "power_state": "Off", "before": "On", "reset_type": "ForceOff",
    }  # fmt: skip
    assert act(provider, "power_off")["changed"] is False
    off = system_of(provider)
    assert act(provider, "power_on")["reset_type"] == "On"
    on = system_of(provider)
    assert act(provider, "shutdown", timeout=10) == {
        "changed": True, "power_state": "Off", "before": "On",
    }  # fmt: skip
    assert act(provider, "shutdown")["changed"] is False
    act(provider, "power_on")
    rebooted = act(provider, "reboot")
    cycled = act(provider, "power_cycle")

    assert (off.state, off.power_state, on.state, on.power_state) == (
        "stopped", "Off", "running", "On",
    )  # fmt: skip
    assert rebooted == {"rebooted": SYSTEM, "reset_type": "ForceRestart", "power_state": "On"}
    # sushy offers no PowerCycle: the plugin takes the power away and gives it back
    assert cycled == {"cycled": SYSTEM, "method": "ForceOff, then On", "power_state": "On"}
    assert system_of(provider).state == "running"


def test_the_boot_override_is_set_read_back_and_refused_when_not_offered(
    live_bmc: Sushy,
) -> None:
    provider = provider_for(live_bmc)

    once = act(provider, "boot_device_set", device="pxe")
    after = system_of(provider)
    again = act(provider, "boot_device_set", device="pxe", persistent=True)

    # sushy keeps every override Continuous: the result says what the BMC holds
    assert once == {
        "changed": True, "device": "pxe", "target": "Pxe", "enabled": "Continuous",
        "before": {"target": "Hdd", "enabled": "Continuous"},
    }  # fmt: skip
    assert after.properties["boot_source_override_target"] == "Pxe"
    assert again == {"changed": False, "device": "pxe", "target": "Pxe", "enabled": "Continuous"}
    with pytest.raises(InvalidParameter, match=r"no boot target BiosSetup for 'bios' \(it offers"):
        act(provider, "boot_device_set", device="bios")
    with pytest.raises(InvalidParameter, match=r"refused 'cdrom' \(Cd\): HTTP 500: Target libvirt"):
        act(provider, "boot_device_set", device="cdrom")  # listed, but the domain has none


def test_describe_availability_and_unknown_systems(live_bmc: Sushy) -> None:
    provider = provider_for(live_bmc)
    unknown = {
        "/redfish/v1/Systems/no-such-uuid": r"no ComputerSystem '/redfish/v1/Systems/no-such",
        MANAGER: r"is not a ComputerSystem",
        "vm00001": r"its ems_ref is its @odata.id",
    }
    for ref, error in unknown.items():
        with pytest.raises(NotFound, match=error):
            provider.run_action("power_off", ref, {})

    described = act(provider, "describe")
    act(provider, "power_off")
    with pytest.raises(InvalidParameter, match=r"reboot: the system's PowerState is Off"):
        act(provider, "reboot")

    assert (described["ems_ref"], described["name"], described["state"]) == (
        SYSTEM, "test", "running",
    )  # fmt: skip
    assert PASSWORD not in str(described)
    assert provider.action_availability("power_cycle", {"state": "stopped"}) == (
        False, "the server is stopped, not running: power_on starts it",
    )  # fmt: skip
