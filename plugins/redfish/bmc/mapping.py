"""Redfish documents as resources: ComputerSystem → ``bare_metal``, Manager → ``bmc``.

The ems_ref of each is its ``@odata.id`` (``/redfish/v1/Systems/1``): unique on the
BMC and stable, where ``UUID`` may be missing or all zeros on some hardware (it is
kept as ``canonical_id``). Values that change by the second (a manager's ``DateTime``)
are left out, so an untouched server's record stays the same between collections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory_providers.base import Relationship, ResourceData

# ComputerSystem.PowerState → Estate's state (the Redfish word is kept as power_state).
POWER_STATES = {
    "On": "running",
    "Off": "stopped",
    "PoweringOn": "provisioning",
    "PoweringOff": "running",  # still on until it is off
    "Paused": "suspended",
}
# Status.State of a manager → Estate's state.
MANAGER_STATES = {
    "Enabled": "active",
    "Disabled": "inactive",
    "StandbyOffline": "inactive",
    "StandbySpare": "inactive",
    "Absent": "inactive",
    "UnavailableOffline": "error",
    "Starting": "provisioning",
    "Updating": "provisioning",
    "InTest": "provisioning",
}
GIB_IN_MB = 1024


def resource_ref(link: str) -> str:
    """A resource's ``@odata.id`` as its ems_ref: without the trailing slash some BMCs
    write (iLO's ``/redfish/v1/Systems/1/``), so links and documents always agree."""
    return link.rstrip("/") or link


def system_resource(document: Mapping[str, Any], service: Mapping[str, Any]) -> ResourceData:
    """One ComputerSystem: power, boot override, CPU and memory summary, identity."""
    ref = resource_ref(str(document["@odata.id"]))
    power = _text(document.get("PowerState"))
    status = _dict(document.get("Status"))
    boot = _dict(document.get("Boot"))
    processors = _dict(document.get("ProcessorSummary"))
    memory = _dict(document.get("MemorySummary"))
    memory_gib = memory.get("TotalSystemMemoryGiB")
    logical = _count(processors.get("LogicalProcessorCount"))
    sockets = _count(processors.get("Count"))
    host_name = _text(document.get("HostName"))
    redfish_id = _text(document.get("Id"))
    properties = {
        "redfish_id": redfish_id,
        "manufacturer": _text(document.get("Manufacturer")),
        "model": _text(document.get("Model")),
        "serial_number": _text(document.get("SerialNumber")),
        "sku": _text(document.get("SKU")),
        "part_number": _text(document.get("PartNumber")),
        "asset_tag": _text(document.get("AssetTag")),
        "system_type": _text(document.get("SystemType")),
        "bios_version": _text(document.get("BiosVersion")),
        "indicator_led": _text(document.get("IndicatorLED")),
        "health": _text(status.get("Health")),
        "status_state": _text(status.get("State")),
        "processor_count": sockets,
        "logical_processor_count": logical,
        "processor_model": _text(processors.get("Model")),
        "boot_source_override_enabled": _text(boot.get("BootSourceOverrideEnabled")),
        "boot_source_override_target": _text(boot.get("BootSourceOverrideTarget")),
        "boot_source_override_mode": _text(boot.get("BootSourceOverrideMode")),
        "redfish_service": _service_name(service),
    }
    identifiers = {
        "uuid": _text(document.get("UUID")),
        "serial_number": properties["serial_number"],
        "redfish_id": redfish_id,
    }
    return ResourceData(
        ems_ref=ref,
        resource_type_slug="bare_metal",
        name=host_name or _text(document.get("Name")) or redfish_id or ref,
        canonical_id=_text(document.get("UUID")),
        vendor_identifiers={k: v for k, v in identifiers.items() if v},
        vendor_type=f"Redfish ComputerSystem ({properties['system_type'] or 'Physical'})",
        state=POWER_STATES.get(power or "", "unknown"),
        power_state=power,
        cpu_count=logical if logical is not None else sockets,
        memory_mb=round(float(memory_gib) * GIB_IN_MB)
        if isinstance(memory_gib, int | float) and not isinstance(memory_gib, bool)
        else None,
        fqdn=host_name if host_name and "." in host_name else None,
        properties={k: v for k, v in properties.items() if v is not None},
        relationships=[
            Relationship(link, "managed_by")
            for link in dict.fromkeys(_links(document, "ManagedBy"))  # each once, in order
        ],
    )


def manager_resource(document: Mapping[str, Any], service: Mapping[str, Any]) -> ResourceData:
    """One Manager (the BMC itself): its identity and firmware."""
    ref = resource_ref(str(document["@odata.id"]))
    status = _dict(document.get("Status"))
    state_word = _text(status.get("State"))
    properties = {
        "redfish_id": _text(document.get("Id")),
        "manager_type": _text(document.get("ManagerType")),
        "firmware_version": _text(document.get("FirmwareVersion")),
        "model": _text(document.get("Model")),
        "manufacturer": _text(document.get("Manufacturer")),
        "serial_number": _text(document.get("SerialNumber")),
        "description": _text(document.get("Description")),
        "health": _text(status.get("Health")),
        "status_state": state_word,
        "redfish_version": _text(service.get("RedfishVersion")),
        "redfish_service": _service_name(service),
    }
    return ResourceData(
        ems_ref=ref,
        resource_type_slug="bmc",
        name=_text(document.get("Name")) or properties["redfish_id"] or ref,
        canonical_id=_text(document.get("UUID")),
        vendor_identifiers={"uuid": document["UUID"]} if _text(document.get("UUID")) else {},
        vendor_type=f"Redfish Manager ({properties['manager_type'] or 'BMC'})",
        state=MANAGER_STATES.get(state_word or "", "unknown"),
        power_state=_text(document.get("PowerState")),
        properties={k: v for k, v in properties.items() if v is not None},
    )


def _links(document: Mapping[str, Any], name: str) -> list[str]:
    found = _dict(document.get("Links")).get(name)
    if not isinstance(found, list):
        return []
    return [
        resource_ref(item["@odata.id"])
        for item in found
        if isinstance(item, dict) and isinstance(item.get("@odata.id"), str)
    ]


def _service_name(service: Mapping[str, Any]) -> str | None:
    parts = [_text(service.get(k)) for k in ("Vendor", "Product", "Name")]
    return " ".join(p for p in parts if p) or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
