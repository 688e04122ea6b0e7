"""The core profile on PVE guests: power, graceful shutdown, reboot, describe, delete.

Each action is one PVE request (``/nodes/N/{qemu,lxc}/ID/status/start``, ``…/stop``,
``…/shutdown``, ``…/reboot``, ``DELETE …``) whose task it waits for. ``power_on`` of a
running guest, ``power_off`` and ``shutdown`` of a stopped one answer
``{"changed": false}`` and send nothing; a paused VM is resumed by ``power_on``.
"""

from __future__ import annotations

from typing import Any

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, ProviderTimeout, Unsupported

from . import guests, mapping
from .guests import ActionSession, Guest, TaskFailed

VM = ["virtual_machine"]
GUESTS = ["virtual_machine", "template"]
SHUTDOWN_MARGIN = 30  # seconds past the guest's timeout for PVE to end the task


class PowerActions(ActionSession):
    """Mixed into the provider (``provider.py``)."""

    @action("power_on", applies_to=VM, profile="core", idempotent=True)
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Start the guest (resume it when paused); nothing changes when it runs."""
        with self.session() as (settings, api):
            guest = _startable(guests.find(api, settings, ems_ref), "power_on")
            if guest.status == "running":
                current = guests.request(settings, "power_on", guest.path(api).status.current.get)
                if current.get("qmpstatus") != "paused":
                    return _unchanged(guest)
                return _done(self, guest, "resume", "power_on")
            return _done(self, guest, "start", "power_on")

    @action("power_off", applies_to=VM, profile="core", idempotent=True)
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Stop the guest at once, as pulling its plug (``status/stop``)."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            if guest.status == "stopped":
                return _unchanged(guest)
            return _done(self, guest, "stop", "power_off")

    @action(
        "shutdown",
        applies_to=VM,
        profile="core",
        idempotent=True,
        long_running=True,
        params=[Param("timeout", "integer", default=300, description="seconds the guest has")],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Ask the guest's OS to power off (ACPI, or the container's init)."""
        timeout = params["timeout"]
        if timeout < 0:
            raise InvalidParameter(f"shutdown: params.timeout: must be >= 0, got {timeout}")
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            if guest.status == "stopped":
                return _unchanged(guest)
            try:
                return _done(self, guest, "shutdown", "shutdown", timeout=timeout)
            except TaskFailed as exc:
                if "timeout" not in exc.reason:
                    raise
                raise ProviderTimeout(
                    f"shutdown: {ems_ref} did not power off within {timeout} s ({exc.reason}); "
                    "power_off stops it at once"
                ) from exc

    @action("reboot", applies_to=VM, profile="core", available="_is_running")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Shut the running guest down and start it again (``status/reboot``)."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            if guest.status != "running":
                raise InvalidParameter(f"reboot: {ems_ref} is {guest.status}, not running")
            return _done(self, guest, "reboot", "reboot")

    @action("describe", applies_to=GUESTS, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The guest as PVE holds it now, mapped as a collection maps it."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            path = guest.path(api)
            config = guests.request(settings, "describe", path.config.get)
            snapshots = guests.request(settings, "describe", path.snapshot.get)
            described: dict[str, Any] = mapping.guest(guest.entry, config, snapshots).to_dict()
            return described

    @action("delete", applies_to=GUESTS, profile="core", long_running=True)
    def delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Destroy the guest and its disks (a running one is stopped first)."""
        with self.session() as (settings, api):
            guest = guests.find(api, settings, ems_ref)
            was_running = guest.status != "stopped"
            if was_running:
                _done(self, guest, "stop", "delete")
            upid = guests.request(
                settings,
                "delete",
                lambda: guest.path(api).delete(purge=1, **{"destroy-unreferenced-disks": 1}),
            )
            guests.wait(api, settings, upid, f"delete of {ems_ref}")
            return {"changed": True, "deleted": ems_ref, "stopped_first": was_running}


def _startable(guest: Guest, what: str) -> Guest:
    if guest.is_template:
        raise Unsupported(f"{what}: {guest.ems_ref} is a template, which PVE never starts")
    return guest


def _unchanged(guest: Guest) -> dict[str, Any]:
    return {"changed": False, "ems_ref": guest.ems_ref, "status": guest.status}


def _done(
    owner: ActionSession, guest: Guest, command: str, what: str, **params: Any
) -> dict[str, Any]:
    """POST ``status/<command>`` and wait for its task: the action's result."""
    with owner.session() as (settings, api):
        endpoint = getattr(guest.path(api).status, command)
        upid = guests.request(settings, what, lambda: endpoint.post(**params), {})
        wait_for = (
            params["timeout"] + SHUTDOWN_MARGIN if "timeout" in params else guests.TASK_TIMEOUT
        )
        guests.wait(api, settings, upid, f"{what} of {guest.ems_ref}", wait_for)
    return {"changed": True, "ems_ref": guest.ems_ref, "task": command, "upid": upid}
