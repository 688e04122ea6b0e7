"""What an operator does to a ComputerSystem through Redfish: power and the next boot.

    core      power_on, power_off (ForceOff), shutdown (GracefulShutdown, then the
              PowerState is watched up to ``timeout``), reboot (ForceRestart, or
              PowerCycle / GracefulRestart where the BMC offers only those), describe
    advanced  power_cycle (PowerCycle, or ForceOff then On), boot_device_set (PATCH
              ``Boot.BootSourceOverrideTarget`` / ``BootSourceOverrideEnabled``)

A reset type is sent only when the system's ``ResetType@Redfish.AllowableValues`` lists
it (some BMCs answer 204 to a reset type they ignore), and a boot target only when
``BootSourceOverrideTarget@Redfish.AllowableValues`` does. Each action opens its own
HTTP client (the provider's long-lived process has not called ``connect()``) and
closes it at the end. ``power_on`` of a system that is on, and ``power_off`` or
``shutdown`` of one that is off, change nothing and say so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from inventory_providers.base import Param, action
from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Unsupported,
)

from .client import SERVICE_ROOT, RedfishClient, RedfishError
from .mapping import resource_ref, system_resource

SERVER = ["bare_metal"]
POLL_SECONDS = 0.25
POWER_WAIT_SECONDS = 60
"""How long power_on, power_off, reboot and power_cycle wait for the new PowerState."""
CYCLE_OFF_SECONDS = 5
BOOT_TARGETS = {"pxe": "Pxe", "disk": "Hdd", "cdrom": "Cd", "bios": "BiosSetup", "default": "None"}
"""``boot_device_set``'s devices as Redfish boot targets (``default``: no override)."""
RESET = "#ComputerSystem.Reset"


class SystemActions:
    """Mixed into the provider (before ``BaseProvider``): uses its ``connect``,
    ``disconnect``, ``_client``, ``service``, ``logger`` and ``canceled``."""

    logger: Any
    canceled: bool  # BaseProvider's; only annotated here, so the mixin does not hide it
    service: dict[str, Any] | None

    def connect(self) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def _client(self) -> RedfishClient:
        raise NotImplementedError

    # -- reading the system ---------------------------------------------------------------

    @contextmanager
    def _system(self, ems_ref: str | None) -> Iterator[tuple[RedfishClient, dict[str, Any]]]:
        """A client and the ComputerSystem ``ems_ref``; ``NotFound`` when there is none."""
        if not isinstance(ems_ref, str) or not ems_ref.startswith(SERVICE_ROOT):
            raise NotFound(f"no ComputerSystem {ems_ref!r}: its ems_ref is its @odata.id")
        self.connect()
        try:
            client = self._client()
            yield client, _system_document(client, ems_ref)
        finally:
            self.disconnect()

    @staticmethod
    def _power(client: RedfishClient, ems_ref: str) -> str:
        return str(_system_document(client, ems_ref).get("PowerState") or "unknown")

    def _wait_for(self, client: RedfishClient, ems_ref: str, power: str, seconds: float) -> str:
        """The PowerState once it is ``power``, or as it is after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            now = self._power(client, ems_ref)
            if now == power or time.monotonic() >= deadline or self.canceled:
                return now
            time.sleep(POLL_SECONDS)

    def _reset(self, client: RedfishClient, system: dict[str, Any], name: str, *kinds: str) -> str:
        """POST the first of ``kinds`` the system allows; the reset type sent."""
        chosen = _reset_type(system, name, kinds)
        target = _reset_target(system)
        try:
            client.post(target, {"ResetType": chosen})
        except RedfishError as exc:
            raise ProviderError(f"{name}: the BMC refused ResetType {chosen}: {exc}") from None
        return chosen

    def _switch(self, ems_ref: str, power: str, name: str, *kinds: str) -> dict[str, Any]:
        """Reset with one of ``kinds`` unless the PowerState is already ``power``; wait."""
        with self._system(ems_ref) as (client, system):
            before = system.get("PowerState")
            if before == power:
                return {"changed": False, "power_state": before}
            sent = self._reset(client, system, name, *kinds)
            after = self._wait_for(client, ems_ref, power, POWER_WAIT_SECONDS)
        if after != power:
            raise ProviderTimeout(
                f"{name}: the BMC still reports PowerState {after} {POWER_WAIT_SECONDS} s "
                f"after ResetType {sent}"
            )
        return {"changed": True, "power_state": after, "before": before, "reset_type": sent}

    def _powered_on(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        """``available=``: the stored record says the system is on."""
        state = (resource or {}).get("state")
        if state == "running":
            return True, ""
        return False, f"the server is {state}, not running: power_on starts it"

    @staticmethod
    def _require_on(name: str, system: dict[str, Any]) -> None:
        power = system.get("PowerState")
        if power != "On":
            raise InvalidParameter(
                f"{name}: the system's PowerState is {power}; power_on starts it"
            )

    # -- core -------------------------------------------------------------------------------

    @action("power_on", applies_to=SERVER, profile="core", idempotent=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Power the system on (nothing changes when it is on)."""
        return self._switch(ems_ref, "On", "power_on", "On", "ForceOn")

    @action("power_off", applies_to=SERVER, profile="core", idempotent=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Cut the system's power at once (ForceOff; nothing changes when it is off)."""
        return self._switch(ems_ref, "Off", "power_off", "ForceOff")

    @action(
        "shutdown",
        applies_to=SERVER,
        profile="core",
        idempotent=True,
        cancelable=True,
        params=[
            Param(
                "timeout",
                "integer",
                default=300,
                description="seconds to wait for PowerState Off (0: do not wait)",
            )
        ],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the system's OS to shut down (GracefulShutdown) and wait for PowerState Off."""
        timeout = params["timeout"]
        if timeout < 0:
            raise InvalidParameter("shutdown: params.timeout: must be 0 or more seconds")
        with self._system(ems_ref) as (client, system):
            before = system.get("PowerState")
            if before == "Off":
                return {"changed": False, "power_state": before}
            self._reset(client, system, "shutdown", "GracefulShutdown")
            after = self._wait_for(client, ems_ref, "Off", timeout)
        if after == "Off":
            return {"changed": True, "power_state": after, "before": before}
        if timeout == 0:
            return {"changed": False, "requested": True, "power_state": after}
        raise ProviderTimeout(
            f"shutdown: PowerState is still {after} {timeout} s after GracefulShutdown; the "
            "OS may ignore it: power_off cuts the power"
        )

    @action("reboot", applies_to=SERVER, profile="core", available="_powered_on")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Restart the running system (ForceRestart, else PowerCycle or GracefulRestart)."""
        with self._system(ems_ref) as (client, system):
            self._require_on("reboot", system)
            sent = self._reset(
                client, system, "reboot", "ForceRestart", "PowerCycle", "GracefulRestart"
            )
            after = self._wait_for(client, ems_ref, "On", POWER_WAIT_SECONDS)
        return {"rebooted": ems_ref, "reset_type": sent, "power_state": after}

    @action("describe", applies_to=SERVER, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The system as the BMC reports it now."""
        with self._system(ems_ref) as (_, system):
            described: dict[str, Any] = system_resource(system, self.service or {}).to_dict()
        return described

    # -- advanced ---------------------------------------------------------------------------

    @action("power_cycle", applies_to=SERVER, profile="advanced", available="_powered_on")
    def power_cycle(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Take the running system's power away and give it back (PowerCycle where the
        BMC offers it, else ForceOff, then On)."""
        with self._system(ems_ref) as (client, system):
            self._require_on("power_cycle", system)
            if "PowerCycle" in _allowed_resets(system, ("PowerCycle",)):
                self._reset(client, system, "power_cycle", "PowerCycle")
                self._wait_for(client, ems_ref, "Off", CYCLE_OFF_SECONDS)
                method = "PowerCycle"
            else:
                self._reset(client, system, "power_cycle", "ForceOff")
                off = self._wait_for(client, ems_ref, "Off", POWER_WAIT_SECONDS)
                if off != "Off":
                    raise ProviderTimeout(f"power_cycle: PowerState is still {off} after ForceOff")
                method = "ForceOff, then " + self._reset(
                    client, system, "power_cycle", "On", "ForceOn"
                )
            after = self._wait_for(client, ems_ref, "On", POWER_WAIT_SECONDS)
        if after != "On":
            raise ProviderTimeout(f"power_cycle: PowerState is {after} after {method}, not On")
        return {"cycled": ems_ref, "method": method, "power_state": after}

    @action(
        "boot_device_set",
        applies_to=SERVER,
        profile="advanced",
        idempotent=True,
        params=[
            Param(
                "device",
                required=True,
                choices=tuple(BOOT_TARGETS),
                description="the device the next boot starts from (default: no override)",
            ),
            Param(
                "persistent",
                "boolean",
                default=False,
                description="for every boot (Continuous), not only the next one (Once)",
            ),
        ],
    )
    def boot_device_set(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Set the boot source override (PATCH the system's Boot)."""
        device, persistent = params["device"], params["persistent"]
        target = BOOT_TARGETS[device]
        enabled = "Disabled" if device == "default" else "Continuous" if persistent else "Once"
        with self._system(ems_ref) as (client, system):
            boot = system.get("Boot") if isinstance(system.get("Boot"), dict) else {}
            _check_target(boot, device, target)
            before = _override(boot)
            if before == {"target": target, "enabled": enabled}:
                return {"changed": False, "device": device, **before}
            body = {"BootSourceOverrideEnabled": enabled}
            if device != "default":
                body["BootSourceOverrideTarget"] = target
            try:
                client.patch(ems_ref, {"Boot": body})
            except RedfishError as exc:  # sushy-emulator refuses an absent device with 500
                raise InvalidParameter(
                    f"boot_device_set: params.device: the BMC refused {device!r} ({target}): "
                    f"HTTP {exc.status}: {exc.message}"
                ) from None
            now = _override(_system_document(client, ems_ref).get("Boot") or {})
        return {"changed": now != before, "device": device, **now, "before": before}


def _system_document(client: RedfishClient, ems_ref: str) -> dict[str, Any]:
    try:
        document = client.get(ems_ref)
    except RedfishError as exc:
        if exc.status == 404:
            raise NotFound(f"no ComputerSystem {ems_ref!r} on this BMC ({exc})") from None
        raise ProviderError(str(exc)) from None
    if "ComputerSystem" not in str(document.get("@odata.type", "")):
        raise NotFound(f"{ems_ref!r} is not a ComputerSystem")
    if resource_ref(str(document.get("@odata.id") or ems_ref)) != resource_ref(ems_ref):
        raise NotFound(f"no ComputerSystem {ems_ref!r} on this BMC")
    return document


def _allowed_resets(system: dict[str, Any], wanted: tuple[str, ...]) -> list[str]:
    """The reset types the system allows; all of ``wanted`` when it does not say."""
    reset = (system.get("Actions") or {}).get(RESET)
    if not isinstance(reset, dict):
        return []
    allowed = reset.get("ResetType@Redfish.AllowableValues")
    return [str(kind) for kind in allowed] if isinstance(allowed, list) else list(wanted)


def _reset_type(system: dict[str, Any], name: str, kinds: tuple[str, ...]) -> str:
    allowed = _allowed_resets(system, kinds)
    for kind in kinds:
        if kind in allowed:
            return kind
    offers = ", ".join(allowed) if allowed else "no ComputerSystem.Reset action"
    raise Unsupported(
        f"{name}: the BMC offers no ResetType {' or '.join(kinds)} for "
        f"{system.get('@odata.id')} (it offers {offers})"
    )


def _reset_target(system: dict[str, Any]) -> str:
    reset = (system.get("Actions") or {}).get(RESET) or {}
    target = reset.get("target")
    if isinstance(target, str) and target:
        return target
    return f"{resource_ref(str(system['@odata.id']))}/Actions/ComputerSystem.Reset"


def _check_target(boot: dict[str, Any], device: str, target: str) -> None:
    allowed = boot.get("BootSourceOverrideTarget@Redfish.AllowableValues")
    if isinstance(allowed, list) and target not in allowed:
        raise InvalidParameter(
            f"boot_device_set: params.device: this BMC offers no boot target {target} for "
            f"{device!r} (it offers {', '.join(str(value) for value in allowed)})"
        )


def _override(boot: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": boot.get("BootSourceOverrideTarget"),
        "enabled": boot.get("BootSourceOverrideEnabled"),
    }
