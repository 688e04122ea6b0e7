"""IPMI BMC: the bare-metal server behind one baseboard management controller."""

from .provider import IpmiBmcProvider

__all__ = ["IpmiBmcProvider"]
