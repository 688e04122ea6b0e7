"""libvirt / KVM: domains, the node, networks, storage pools and volumes of one libvirt host."""

from .provider import LibvirtKvmProvider

__all__ = ["LibvirtKvmProvider"]
