"""The core profile on vCenter: power a VM on and off, shut it down, reboot, describe, delete.

``power_on`` of a running VM and ``power_off`` (or ``shutdown``) of a stopped one
succeed and change nothing. ``shutdown`` asks the guest (``ShutdownGuest``, through
VMware Tools) and waits until the VM is off; it never cuts the power in its place:
a guest that cannot be asked fails the action (``unsupported``), one that does not
stop in time fails it (``timeout``). ``reboot`` asks the guest too (``RebootGuest``);
where the guest cannot be asked (no running Tools, or a server without the method, as
vcsim) it resets the VM, and its result says which it did.
"""

from __future__ import annotations

import time
from typing import Any

from pyVmomi import vim

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, ProviderTimeout, Unsupported

from . import mapping
from .inventory import MACHINES, Datacenter
from .machines import Acting, call, custom_fields, machine, read, wait
from .session import Session

VM = ["virtual_machine"]
MACHINE = ["virtual_machine", "template"]
POWER = ["name", "runtime.powerState"]
POLL_S = 0.5


class PowerActions(Acting):
    """The core profile (mixed into the provider)."""

    def _power(self, ems_ref: str, wanted: str, verb: str, task: str) -> dict[str, Any]:
        with self._acting() as session:
            vm, found = machine(session, ems_ref, POWER)
            before = str(found.props.get("runtime.powerState"))
            if before == wanted:
                return {"changed": False, "power_state": wanted}
            wait(session, call(session, f"{verb} of {ems_ref}", getattr(vm, task)), verb)
            return {"changed": True, "before": before, "power_state": wanted}

    @action("power_on", applies_to=VM, profile="core", idempotent=True, long_running=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Power the VM on (or resume a suspended one); nothing changes when it runs."""
        return self._power(ems_ref, "poweredOn", "power_on", "PowerOnVM_Task")

    @action("power_off", applies_to=VM, profile="core", idempotent=True, long_running=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Cut the VM's power (hard); nothing changes when it is off."""
        return self._power(ems_ref, "poweredOff", "power_off", "PowerOffVM_Task")

    @action(
        "shutdown",
        applies_to=VM,
        profile="core",
        idempotent=True,
        long_running=True,
        params=[Param("timeout", "integer", default=300, description="seconds to wait")],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the guest to shut down and wait until the VM is off (0: do not wait)."""
        timeout = params["timeout"]
        if timeout < 0:
            raise InvalidParameter("shutdown: params.timeout: must be >= 0")
        with self._acting() as session:
            vm, found = machine(session, ems_ref, POWER)
            before = str(found.props.get("runtime.powerState"))
            if before == "poweredOff":
                return {"changed": False, "power_state": before}
            if before != "poweredOn":
                raise InvalidParameter(f"shutdown: {ems_ref} is {before}, not running")
            try:
                call(session, f"shutdown of {ems_ref}", vm.ShutdownGuest)
            except Unsupported as exc:
                raise Unsupported(
                    f"shutdown: the guest of {ems_ref} cannot be asked to shut down ({exc}); "
                    "power_off cuts its power instead"
                ) from None
            if timeout == 0:
                return {"changed": True, "before": before, "requested": True}
            after = self._stopped_within(session, vm, ems_ref, timeout)
            return {"changed": True, "before": before, "power_state": after}

    def _stopped_within(self, session: Session, vm: Any, ems_ref: str, timeout: int) -> str:
        deadline = time.monotonic() + timeout
        while True:
            power = str(read(session, vm, type(vm), POWER, "shutdown").props["runtime.powerState"])
            if power == "poweredOff":
                return power
            if time.monotonic() >= deadline:
                raise ProviderTimeout(
                    f"shutdown: the guest of {ems_ref} did not shut down within {timeout} s "
                    "(it is still on; power_off cuts its power)"
                )
            time.sleep(POLL_S)

    @action("reboot", applies_to=VM, profile="core", available="_running", long_running=True)
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Restart a running VM: through its guest, or by a reset where the guest cannot."""
        with self._acting() as session:
            vm, found = machine(session, ems_ref, POWER)
            power = str(found.props.get("runtime.powerState"))
            if power != "poweredOn":
                raise InvalidParameter(f"reboot: {ems_ref} is {power}, not running")
            try:
                call(session, f"reboot of {ems_ref}", vm.RebootGuest)
                return {"rebooted": ems_ref, "method": "guest"}
            except Unsupported as exc:
                self.logger.warning("the guest cannot reboot itself (%s): resetting", exc)
                wait(session, call(session, f"reset of {ems_ref}", vm.ResetVM_Task), "reboot")
                return {"rebooted": ems_ref, "method": "reset", "why": str(exc)}

    @action("describe", applies_to=MACHINE, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The VM as vCenter sees it now, in the inventory's words."""
        with self._acting() as session:
            _, found = machine(session, ems_ref, MACHINES[vim.VirtualMachine])
            described = mapping.machine(found, Datacenter("", "", custom_fields(session))).to_dict()
            described.pop("region", None)
            return described

    @action(
        "delete", applies_to=MACHINE, profile="core", available="_powered_off", long_running=True
    )
    def delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Destroy a powered-off VM (or template) and its files."""
        with self._acting() as session:
            vm, found = machine(session, ems_ref, POWER)
            power = str(found.props.get("runtime.powerState"))
            if power != "poweredOff":
                raise InvalidParameter(
                    f"delete: {ems_ref} is {power}: power it off first (power_off or shutdown)"
                )
            wait(session, call(session, f"delete of {ems_ref}", vm.Destroy_Task), "delete")
            return {"deleted": ems_ref, "name": str(found.props.get("name"))}
