"""The bare-metal server behind one IPMI BMC, read with pyghmi over IPMI 2.0 LAN.

One collection is one session and a handful of requests: the power state and the
BMC's device id (both required), then what a BMC may or may not offer: the system
GUID, the boot device, the FRU inventory, OEM firmware versions, sensors, the LAN
settings. A BMC that answers "not supported" to one of those leaves that part out;
a BMC that stops answering in the middle leaves the rest unread and is reported
incomplete (``report_incomplete``): the run ends partial and deletes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import ProviderError, Unreachable

from . import mapping
from .actions import PowerActions
from .session import Session
from .settings import KNOWN, Settings

T = TypeVar("T")
GENERIC_FIRMWARE = "BMC Version"  # pyghmi's generic entry repeats Get Device ID


class IpmiBmcProvider(PowerActions, BaseProvider):
    """One IPMI BMC and the server it manages; its power and boot actions are in
    ``actions.py``."""

    vendor = "ipmi"
    provider_type = "bmc"
    display_name = "IPMI BMC"
    supported_resource_types = ["bare_metal", "bmc"]

    settings: Settings | None = None
    session: Session | None = None

    def connect(self) -> None:
        """Check the parameters and open an RMCP+ session (bounded by ``timeout``)."""
        self.settings = Settings.read(self.credential, _public_config(self.provider_model))
        for name in sorted(set(self.credential.extra) - KNOWN):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        self.session = Session(self.settings)

    def disconnect(self) -> None:
        """Log out of the BMC."""
        if self.session is not None:
            self.session.close()
        self.session = None

    def validate_connection(self) -> tuple[bool, str]:
        """Log in and read the power state: the least any BMC answers."""
        try:
            self.connect()
            session = self._session()
            power = session.call("the power state", session.command.get_power)
        except ProviderError as exc:
            return False, f"{exc.kind}: {exc}"
        finally:
            self.disconnect()
        address = session.settings.address
        return True, f"logged in to BMC {address}; the server is powered {power['powerstate']}"

    def collect(self) -> Iterator[ResourceData]:
        """The BMC, then the server it manages."""
        session = self._session()
        started = time.perf_counter()
        reading = self._read(session)
        yield mapping.bmc(reading)
        yield mapping.server(reading)
        self.logger.info(
            "read BMC %s in %.2f s: powered %s", session.settings.address,
            time.perf_counter() - started, reading.power,
        )  # fmt: skip

    def _read(self, session: Session) -> mapping.Reading:
        """Everything the BMC tells, the two required reads first."""
        command = session.command
        power = session.call("the power state", command.get_power)
        device = session.call("Get Device ID", lambda: command.xraw_command(netfn=6, command=1))
        reading = mapping.Reading(
            host=session.settings.host,
            power=str(power.get("powerstate") or "unknown"),
            device=mapping.device_id(device["data"]),
        )
        guid = self._optional(
            "the system GUID", lambda: command.xraw_command(netfn=6, command=0x37)
        )
        reading.guid = mapping.system_guid(guid["data"]) if guid else None
        reading.boot = self._optional("the boot device", command.get_bootdev)
        inventory = self._optional("the FRU inventory", lambda: dict(command.get_inventory()))
        reading.fru = (inventory or {}).get("System")
        firmware = self._optional("the firmware versions", lambda: list(command.get_firmware()))
        reading.firmware = {
            str(name): str(info.get("version") or info.get("build") or "")
            for name, info in firmware or ()
            if name != GENERIC_FIRMWARE
        }
        if session.settings.sensors:
            reading.sensors = self._optional("the sensors", lambda: list(command.get_sensor_data()))
        reading.network = self._optional("the BMC's LAN settings", command.get_net_configuration)
        return reading

    def _optional(self, what: str, function: Callable[[], T]) -> T | None:
        """``function()``, or None when the BMC does not offer it or stopped answering."""
        session = self._session()
        try:
            return session.call(what, function)
        except Unreachable as exc:
            self.report_incomplete(what, exc)
        except ProviderError as exc:
            if exc.kind == "unauthenticated":
                raise
            self.logger.info("%s: not available (%s)", what, exc)
        return None

    def _session(self) -> Session:
        if self.session is None:
            raise ProviderError("not connected: connect() first")
        return self.session


def _public_config(provider_model: Any) -> Mapping[str, Any] | None:
    """The provider's ``connection_config`` as the service shows it (secrets masked),
    or None when the host gave no provider record."""
    config = getattr(provider_model, "connection_config", None)
    if config is None and isinstance(provider_model, Mapping):
        config = provider_model.get("connection_config")
    return config if isinstance(config, Mapping) else None
