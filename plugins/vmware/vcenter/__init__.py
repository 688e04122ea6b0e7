"""VMware vCenter: the inventory of a vCenter Server through pyVmomi's PropertyCollector."""

from .provider import VCenterProvider

__all__ = ["VCenterProvider"]
