"""What an operator does to the server through its BMC: power and the next boot device.

    core      power_on, power_off (hard), shutdown (soft: the OS is asked over ACPI,
              then the power state is watched up to ``timeout``), reboot (hard reset),
              describe
    advanced  power_cycle (power off, then on after the BMC's interval),
              boot_device_set (the device the next boot starts from)

Each action opens its own RMCP+ session (the provider's long-lived process has not
called ``connect()``) and logs out at the end. ``power_on`` of a server that is on,
and ``power_off`` or ``shutdown`` of one that is off, change nothing and say so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound, ProviderTimeout

from . import mapping
from .session import Session

SERVER = ["bare_metal"]
POLL_SECONDS = 0.25
POWER_WAIT_SECONDS = 60
"""How long power_on, power_off and reboot wait for the BMC to report the new state."""
CYCLE_OFF_SECONDS = 5
"""How long power_cycle waits to see the power go off before it waits for it to return."""
BOOT_DEVICES = {
    "pxe": "network",
    "disk": "hd",
    "cdrom": "optical",
    "bios": "setup",
    "default": "default",
}
"""``boot_device_set``'s devices, and pyghmi's names for them (``default``: no override)."""


class PowerActions:
    """Mixed into the provider (before ``BaseProvider``): uses its ``connect``,
    ``disconnect``, ``_session``, ``_read``, ``logger`` and ``canceled``."""

    logger: Any
    canceled: bool  # BaseProvider's; only annotated here, so the mixin does not hide it

    def connect(self) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def _session(self) -> Session:
        raise NotImplementedError

    def _read(self, session: Session) -> mapping.Reading:
        raise NotImplementedError

    # -- sessions and power reads ---------------------------------------------------------

    @contextmanager
    def _server(self, ems_ref: str | None) -> Iterator[Session]:
        """A session to the BMC of the server ``ems_ref``; ``NotFound`` for any other."""
        if ems_ref != mapping.SERVER_REF:
            raise NotFound(
                f"no server {ems_ref!r} behind this BMC: the server it manages is "
                f"{mapping.SERVER_REF!r}"
            )
        self.connect()
        try:
            yield self._session()
        finally:
            self.disconnect()

    @staticmethod
    def _power(session: Session) -> str:
        """``on`` or ``off``, as the BMC reports it now."""
        return str(session.call("the power state", session.command.get_power)["powerstate"])

    def _wait_for(self, session: Session, power: str, seconds: float) -> str:
        """The power state once it is ``power``, or as it is after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            now = self._power(session)
            if now == power or time.monotonic() >= deadline or self.canceled:
                return now
            time.sleep(POLL_SECONDS)

    def _request(self, session: Session, what: str, state: str) -> None:
        """pyghmi's ``set_power(state)``, without its own waiting."""
        session.call(f"the {what} request", lambda: session.command.set_power(state))

    def _switch(self, ems_ref: str, power: str, request: str, what: str) -> dict[str, Any]:
        """Ask for ``request`` unless the power is already ``power``; wait until it is."""
        with self._server(ems_ref) as session:
            before = self._power(session)
            if before == power:
                return {"changed": False, "power_state": before}
            self._request(session, what, request)
            after = self._wait_for(session, power, POWER_WAIT_SECONDS)
        if after != power:
            raise ProviderTimeout(
                f"{what}: the BMC still reports the server powered {after} "
                f"{POWER_WAIT_SECONDS} s after the request"
            )
        self.logger.info("%s: the server went from %s to %s", what, before, after)
        return {"changed": True, "power_state": after, "before": before}

    def _powered_on(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        """``available=``: the stored record says the server is on."""
        state = (resource or {}).get("state")
        if state == "running":
            return True, ""
        return False, f"the server is {state}, not running: power_on starts it"

    @staticmethod
    def _require_on(name: str, power: str) -> None:
        if power != "on":
            raise InvalidParameter(f"{name}: the server is powered {power}; power_on starts it")

    # -- core -------------------------------------------------------------------------------

    @action("power_on", applies_to=SERVER, profile="core", idempotent=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Power the server on (nothing changes when it is on)."""
        return self._switch(ems_ref, "on", "on", "power_on")

    @action("power_off", applies_to=SERVER, profile="core", idempotent=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Cut the server's power at once, without asking its OS (nothing changes when off)."""
        return self._switch(ems_ref, "off", "off", "power_off")

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
                description="seconds to wait for the OS to power the server off (0: do not wait)",
            )
        ],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the server's OS to shut down (ACPI soft-off) and wait for the power to go off."""
        timeout = params["timeout"]
        if timeout < 0:
            raise InvalidParameter("shutdown: params.timeout: must be 0 or more seconds")
        with self._server(ems_ref) as session:
            before = self._power(session)
            if before == "off":
                return {"changed": False, "power_state": before}
            self._request(session, "soft shutdown", "shutdown")
            after = self._wait_for(session, "off", timeout)
        if after == "off":
            return {"changed": True, "power_state": after, "before": before}
        if timeout == 0:
            return {"changed": False, "requested": True, "power_state": after}
        raise ProviderTimeout(
            f"shutdown: the server is still powered {after} {timeout} s after the soft "
            "shutdown (ACPI) request; its OS may ignore it: power_off cuts the power"
        )

    @action("reboot", applies_to=SERVER, profile="core", available="_powered_on")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Reset the running server at once (IPMI hard reset; the power stays on)."""
        with self._server(ems_ref) as session:
            self._require_on("reboot", self._power(session))
            self._request(session, "hard reset", "reset")
            after = self._wait_for(session, "on", POWER_WAIT_SECONDS)
        return {"rebooted": ems_ref, "method": "hard reset", "power_state": after}

    @action("describe", applies_to=SERVER, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The server as its BMC reports it now."""
        with self._server(ems_ref) as session:
            reading = self._read(session)
        described: dict[str, Any] = mapping.server(reading).to_dict()
        return described

    # -- advanced ---------------------------------------------------------------------------

    @action(
        "power_cycle",
        applies_to=SERVER,
        profile="advanced",
        available="_powered_on",
        params=[
            Param(
                "timeout",
                "integer",
                default=POWER_WAIT_SECONDS,
                description="seconds to wait for the power to come back on",
            )
        ],
    )
    def power_cycle(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Take the running server's power away, then give it back (IPMI power cycle)."""
        timeout = params["timeout"]
        if timeout < 1:
            raise InvalidParameter("power_cycle: params.timeout: must be 1 or more seconds")
        with self._server(ems_ref) as session:
            self._require_on("power_cycle", self._power(session))
            session.call(  # Chassis Control, "power cycle" (2): pyghmi has no name for it
                "the power cycle request",
                lambda: session.command.xraw_command(netfn=0, command=2, data=[2]),
            )
            went_off = self._wait_for(session, "off", CYCLE_OFF_SECONDS) == "off"
            after = self._wait_for(session, "on", timeout)
        if after != "on":
            raise ProviderTimeout(
                f"power_cycle: the server is still powered {after} {timeout} s after the "
                "power cycle request"
            )
        return {"cycled": ems_ref, "seen_off": went_off, "power_state": after}

    @action(
        "boot_device_set",
        applies_to=SERVER,
        profile="advanced",
        idempotent=True,
        params=[
            Param(
                "device",
                required=True,
                choices=tuple(BOOT_DEVICES),
                description="the device the next boot starts from (default: no override)",
            ),
            Param(
                "persistent",
                "boolean",
                default=False,
                description="for every boot, not only the next one",
            ),
        ],
    )
    def boot_device_set(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Set the boot device override (IPMI Set System Boot Options, boot flags)."""
        device, persistent = params["device"], params["persistent"]
        with self._server(ems_ref) as session:
            command = session.command
            before = session.call("the boot device", command.get_bootdev)
            session.call(
                "the boot device change",
                lambda: command.set_bootdev(BOOT_DEVICES[device], persist=persistent),
            )
        return {
            "boot_device": device,
            "persistent": persistent,
            "before": {
                "boot_device": before.get("bootdev"),
                "persistent": before.get("persistent"),
            },
        }
