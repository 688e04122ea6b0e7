"""What a BMC tells, as two Estate resources: the server (``bare_metal``) and the BMC.

One provider is one BMC, so the ``ems_ref`` values are fixed (``system`` and
``bmc``); the system GUID, which follows the mainboard, is the server's
``canonical_id``. Everything IPMI reports that Estate has no column for goes into
``properties``.
"""

from __future__ import annotations

import ipaddress
import struct
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from inventory_providers.base import Relationship, ResourceData

SERVER_REF = "system"
BMC_REF = "bmc"
POWER_STATES = {"on": "running", "off": "stopped"}
HEALTH_WORDS = {0: "ok", 1: "warning", 2: "critical", 4: "failed"}
# Fields of pyghmi's "System" inventory entry that repeat the Get Device ID answer.
_DEVICE_KEYS = frozenset(
    {"firmware_version", "device_id", "device_revision", "manufacturer_id", "product_id",
     "oem_parser", "uuid", "product_extra", "fru_id"}
)  # fmt: skip


@dataclass(slots=True)
class Reading:
    """Everything one collection read from the BMC; what it could not read stays None."""

    host: str
    power: str
    device: dict[str, Any]
    guid: str | None = None
    boot: dict[str, Any] | None = None
    fru: dict[str, Any] | None = None
    firmware: dict[str, str] = field(default_factory=dict)
    sensors: list[Any] | None = None
    network: dict[str, Any] | None = None


def device_id(data: bytes) -> dict[str, Any]:
    """The answer to Get Device ID (NetFn App, command 01h), decoded (IPMI 2.0, 20.1)."""
    if len(data) < 11:
        raise ValueError(f"Get Device ID answered {len(data)} bytes, expected at least 11")
    manufacturer = struct.unpack("<I", bytes(data[6:9]) + b"\x00")[0] & 0xFFFFF
    return {
        "device_id": data[0],
        "device_revision": data[1] & 0x0F,
        "firmware_version": f"{data[2] & 0x7F}.{data[3]:02x}",
        "ipmi_version": f"{data[4] & 0x0F}.{data[4] >> 4}",
        "manufacturer_id": manufacturer,
        "product_id": struct.unpack("<H", bytes(data[9:11]))[0],
    }


def system_guid(data: bytes) -> str | None:
    """Get System GUID's 16 bytes as text (SMBIOS byte order, as ``dmidecode`` shows it)."""
    if len(data) != 16 or not any(data):
        return None
    return str(uuid.UUID(bytes_le=bytes(data)))


def server(reading: Reading) -> ResourceData:
    """The bare-metal server: power, boot device, FRU identity, sensors."""
    fru = _fru(reading.fru or {})
    sensors = _sensors(reading.sensors) if reading.sensors is not None else None
    properties: dict[str, Any] = {}
    if reading.boot is not None:
        properties["boot_device"] = reading.boot.get("bootdev")
        properties["boot_persistent"] = reading.boot.get("persistent")
        if "uefimode" in reading.boot:
            properties["boot_uefi"] = reading.boot["uefimode"]
    if fru:
        properties["fru"] = fru
    if sensors is not None:
        properties["sensors"] = sensors
        properties["health"] = _worst(entry["health"] for entry in sensors.values())
    identifiers = {"serial_number": fru.get("serial_number"), "system_guid": reading.guid}
    return ResourceData(
        ems_ref=SERVER_REF,
        resource_type_slug="bare_metal",
        name=reading.host,
        canonical_id=reading.guid,
        vendor_identifiers={k: v for k, v in identifiers.items() if v},
        vendor_type="IPMI managed system",
        state=POWER_STATES.get(reading.power, "unknown"),
        power_state=reading.power,
        properties={k: v for k, v in properties.items() if v is not None},
        relationships=[Relationship(BMC_REF, "managed_by")],
    )


def bmc(reading: Reading) -> ResourceData:
    """The BMC: firmware and device identity, its own network settings."""
    network = reading.network or {}
    addresses = [reading.host] if _is_ip(reading.host) else []
    own = str(network.get("ipv4_address") or "").partition("/")[0]
    if own and own not in addresses:
        addresses.append(own)
    mac = network.get("mac_address")
    properties = {**reading.device, "firmware": reading.firmware or None,
                  "ipv4_configuration": network.get("ipv4_configuration")}  # fmt: skip
    return ResourceData(
        ems_ref=BMC_REF,
        resource_type_slug="bmc",
        name=f"BMC {reading.host}",
        vendor_type="IPMI BMC",
        state="active",
        ip_addresses=addresses,
        mac_addresses=[str(mac).lower()] if mac else [],
        os_name=f"BMC firmware {reading.device['firmware_version']}",
        properties={k: v for k, v in properties.items() if v is not None},
    )


def _fru(entry: dict[str, Any]) -> dict[str, Any]:
    """pyghmi's inventory fields with snake_case names; plain values only."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        name = str(key).strip().lower().replace(" ", "_")
        if name in _DEVICE_KEYS or value is None or value == "":
            continue
        if isinstance(value, datetime | date):
            value = value.isoformat()
        if isinstance(value, str | int | float | bool):
            out[name] = value
    return out


def _sensors(readings: list[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for reading in readings:
        entry: dict[str, Any] = {"type": reading.type, "health": _health(reading.health)}
        if getattr(reading, "unavailable", 0):
            entry["unavailable"] = True
        elif reading.value is not None:
            entry["value"] = reading.value
            entry["units"] = reading.units
        if reading.states:
            entry["states"] = list(reading.states)
        out[str(reading.name)] = entry
    return out


def _health(code: Any) -> str:
    if not isinstance(code, int):
        return "unknown"
    for bit in (4, 2, 1):
        if code & bit:
            return HEALTH_WORDS[bit]
    return "ok"


def _worst(words: Any) -> str:
    order = ["ok", "unknown", "warning", "critical", "failed"]
    return max(words, key=order.index, default="ok")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
