"""Redfish BMC: the servers (ComputerSystems) and managers of a Redfish service."""

from .provider import RedfishBmcProvider

__all__ = ["RedfishBmcProvider"]
