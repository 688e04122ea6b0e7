"""AWS's state words mapped to the service's state vocabulary.

A word not in a table maps to ``unknown``; the record keeps AWS's own word
(``power_state`` for instances and databases, ``properties["state"]`` for the rest),
so nothing the platform says is lost and no state outside the vocabulary is emitted.
"""

from __future__ import annotations

from collections.abc import Mapping

INSTANCE = {
    "pending": "provisioning",
    "running": "running",
    "stopping": "stopped",  # on its way down: no longer serving
    "stopped": "stopped",
    "shutting-down": "terminated",
    "terminated": "terminated",
}
VOLUME = {
    "creating": "provisioning",
    "available": "inactive",  # not attached to any instance
    "in-use": "active",
    "deleting": "decommissioned",
    "deleted": "terminated",
    "error": "error",
}
NETWORK = {"pending": "provisioning", "available": "active"}
LOAD_BALANCER = {
    "provisioning": "provisioning",
    "active": "active",
    "active_impaired": "error",
    "failed": "error",
}
DATABASE = {
    "available": "running",
    "backing-up": "running",
    "modifying": "running",
    "maintenance": "running",
    "rebooting": "running",
    "renaming": "running",
    "resetting-master-credentials": "running",
    "storage-optimization": "running",
    "upgrading": "running",
    "configuring-enhanced-monitoring": "running",
    "configuring-log-exports": "running",
    "creating": "provisioning",
    "starting": "provisioning",
    "stopping": "stopped",
    "stopped": "stopped",
    "deleting": "decommissioned",
    "failed": "error",
    "incompatible-network": "error",
    "incompatible-option-group": "error",
    "incompatible-parameters": "error",
    "incompatible-restore": "error",
    "inaccessible-encryption-credentials": "error",
    "storage-full": "error",
}
FUNCTION = {
    "Active": "active",
    "Pending": "provisioning",
    "Inactive": "inactive",
    "Failed": "error",
}
CLUSTER = {
    "CREATING": "provisioning",
    "PENDING": "provisioning",
    "ACTIVE": "active",
    "UPDATING": "active",
    "DELETING": "decommissioned",
    "FAILED": "error",
}


def mapped(table: Mapping[str, str], word: str | None, default: str = "unknown") -> str:
    """The vocabulary state for AWS's ``word``; ``default`` when AWS gave none."""
    if not word:
        return default
    return table.get(word, "unknown")
