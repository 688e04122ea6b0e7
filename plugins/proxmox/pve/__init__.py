"""Proxmox VE: guests, nodes, storages and the cluster, read through proxmoxer."""

from .provider import ProxmoxProvider

__all__ = ["ProxmoxProvider"]
