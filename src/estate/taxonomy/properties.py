"""The documented ``properties`` keys of each resource type, per vendor.

``properties`` holds what a platform says beyond the common columns. Naming the
keys here (as the seed service's property definitions do) lets reports and
collector authors agree: ``publicly_accessible``, not ``public`` in one plugin
and ``is_public`` in another. An empty ``vendor_scope`` means every vendor; the
vendor-scoped rows are what the built-in plugins write.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import stable_id

VALUE_TYPES = ("string", "integer", "float", "boolean", "datetime", "json")


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    resource_type: str
    key: str
    value_type: str
    vendor_scope: str
    description: str
    example_value: str = ""
    required: bool = False

    @property
    def id(self) -> str:
        return stable_id("property", f"{self.resource_type}\x00{self.vendor_scope}\x00{self.key}")

    @property
    def name(self) -> str:
        """A label from the key: ``cores_per_socket`` → ``Cores Per Socket``."""
        return " ".join(word.capitalize() for word in self.key.split("_"))


# (resource type, vendor scope, key, value type, description, example)
_Row = tuple[str, str, str, str, str, str]
_ROWS: tuple[_Row, ...] = (
    # every vendor
    ("virtual_machine", "", "tools_status", "string",
     "State of the guest agent (VMware Tools, qemu-guest-agent).", "guestToolsRunning"),
    ("virtual_machine", "", "linked_clone", "boolean",
     "Whether the disks are a linked clone of another machine's.", "false"),
    ("virtual_machine", "", "publicly_accessible", "boolean",
     "Whether the machine has an address reachable from the internet.", "true"),
    ("relational_db", "", "engine", "string", "Database engine.", "postgres"),
    ("relational_db", "", "engine_version", "string", "Engine version.", "16.3"),
    ("relational_db", "", "publicly_accessible", "boolean",
     "Whether the endpoint is reachable from the internet.", "false"),
    ("object_storage", "", "versioning", "string", "Object versioning state.", "Enabled"),
    ("object_storage", "", "encryption", "string", "Default encryption at rest.", "AES256"),
    ("load_balancer", "", "scheme", "string",
     "internet-facing or internal.", "internet-facing"),
    ("storage_pool", "", "capacity_bytes", "integer", "Total size in bytes.", "107374182400"),
    ("storage_pool", "", "available_bytes", "integer", "Free space in bytes.", "53687091200"),
    ("block_storage", "", "capacity_bytes", "integer", "Size in bytes.", "21474836480"),
    # libvirt:kvm
    ("virtual_machine", "libvirt", "domain_type", "string", "The libvirt domain type.", "kvm"),
    ("virtual_machine", "libvirt", "arch", "string", "Guest CPU architecture.", "x86_64"),
    ("virtual_machine", "libvirt", "machine", "string", "Emulated machine type.", "pc-q35-8.2"),
    ("virtual_machine", "libvirt", "max_vcpus", "integer", "Maximum vCPUs.", "4"),
    ("virtual_machine", "libvirt", "current_memory_mb", "integer",
     "Memory given to the guest now (balloon), in MiB.", "2048"),
    ("virtual_machine", "libvirt", "disks", "json", "Disks: target, source, format.", "[...]"),
    ("virtual_machine", "libvirt", "interfaces", "json",
     "NICs: MAC address, network or bridge, model.", "[...]"),
    ("virtual_machine", "libvirt", "libosinfo", "string",
     "The libosinfo id of the guest OS.", "http://fedoraproject.org/fedora/40"),
    ("hypervisor_host", "libvirt", "uri", "string", "The libvirt URI.", "qemu+ssh://h/system"),
    ("hypervisor_host", "libvirt", "hypervisor", "string", "Hypervisor driver.", "QEMU"),
    ("hypervisor_host", "libvirt", "hypervisor_version", "string", "Its version.", "8.2.0"),
    ("hypervisor_host", "libvirt", "libvirt_version", "string", "libvirt version.", "10.0.0"),
    ("hypervisor_host", "libvirt", "cpu_model", "string", "CPU model.", "x86_64"),
    ("hypervisor_host", "libvirt", "cpu_mhz", "integer", "CPU clock in MHz.", "2400"),
    ("hypervisor_host", "libvirt", "numa_nodes", "integer", "NUMA nodes.", "2"),
    ("hypervisor_host", "libvirt", "sockets", "integer", "CPU sockets per NUMA node.", "1"),
    ("hypervisor_host", "libvirt", "cores_per_socket", "integer", "Cores per socket.", "8"),
    ("hypervisor_host", "libvirt", "threads_per_core", "integer", "Threads per core.", "2"),
    ("storage_pool", "libvirt", "pool_type", "string", "libvirt pool type.", "dir"),
    ("storage_pool", "libvirt", "target_path", "string", "Where the pool lives.",
     "/var/lib/libvirt/images"),
    ("storage_pool", "libvirt", "autostart", "boolean", "Started with the host.", "true"),
    ("block_storage", "libvirt", "pool", "string", "The pool holding the volume.", "default"),
    ("block_storage", "libvirt", "format", "string", "Volume format.", "qcow2"),
    ("block_storage", "libvirt", "backing_store", "string", "Backing file, if any.", ""),
    ("network", "libvirt", "forward_mode", "string", "nat, route, bridge or isolated.", "nat"),
    ("network", "libvirt", "bridge", "string", "The host bridge.", "virbr0"),
    ("network", "libvirt", "addresses", "json", "Its address ranges.", '["192.168.122.1/24"]'),
    # redfish:bmc
    ("bare_metal", "redfish", "manufacturer", "string", "System manufacturer.", "Dell Inc."),
    ("bare_metal", "redfish", "model", "string", "System model.", "PowerEdge R750"),
    ("bare_metal", "redfish", "serial_number", "string", "Serial number.", "CN7475"),
    ("bare_metal", "redfish", "sku", "string", "SKU or service tag.", "8XYZ123"),
    ("bare_metal", "redfish", "system_type", "string", "Redfish SystemType.", "Physical"),
    ("bare_metal", "redfish", "bios_version", "string", "BIOS version.", "1.9.2"),
    ("bare_metal", "redfish", "health", "string", "Redfish Status.Health.", "OK"),
    ("bare_metal", "redfish", "processor_count", "integer", "CPU sockets.", "2"),
    ("bare_metal", "redfish", "processor_model", "string", "CPU model.", "Xeon Gold 6338"),
    ("bmc", "redfish", "manager_type", "string", "Redfish ManagerType.", "BMC"),
    ("bmc", "redfish", "firmware_version", "string", "Controller firmware.", "6.10.30.00"),
    ("bmc", "redfish", "redfish_version", "string", "Redfish service version.", "1.17.0"),
    ("bmc", "redfish", "health", "string", "Redfish Status.Health.", "OK"),
    # aws:aws
    ("virtual_machine", "aws", "image_id", "string", "The AMI it was launched from.",
     "ami-0abcdef1234567890"),
    ("virtual_machine", "aws", "key_name", "string", "Its SSH key pair.", "ops"),
    ("virtual_machine", "aws", "architecture", "string", "CPU architecture.", "x86_64"),
    ("virtual_machine", "aws", "lifecycle", "string", "on-demand, spot or scheduled.",
     "on-demand"),
    ("virtual_machine", "aws", "tenancy", "string", "default, dedicated or host.", "default"),
    ("virtual_machine", "aws", "vpc_id", "string", "Its VPC.", "vpc-0a1b2c3d"),
    ("virtual_machine", "aws", "subnet_id", "string", "Its subnet.", "subnet-0a1b2c3d"),
    ("virtual_machine", "aws", "security_groups", "json", "Its security group ids.",
     '["sg-0a1b2c3d"]'),
    ("virtual_machine", "aws", "private_dns_name", "string", "Private DNS name.",
     "ip-10-0-0-5.ec2.internal"),
    ("virtual_machine", "aws", "public_dns_name", "string", "Public DNS name, if any.", ""),
    ("auto_scaling_group", "aws", "min_size", "integer", "Minimum instances.", "1"),
    ("auto_scaling_group", "aws", "max_size", "integer", "Maximum instances.", "4"),
    ("auto_scaling_group", "aws", "desired_capacity", "integer", "Desired instances.", "2"),
    ("relational_db", "aws", "multi_az", "boolean", "Deployed across zones.", "true"),
    ("relational_db", "aws", "storage_type", "string", "Storage class.", "gp3"),
    ("relational_db", "aws", "storage_encrypted", "boolean", "Encrypted at rest.", "true"),
    ("relational_db", "aws", "port", "integer", "Listening port.", "5432"),
)  # fmt: skip

PROPERTY_DEFINITIONS: tuple[PropertyDefinition, ...] = tuple(
    PropertyDefinition(rtype, key, vtype, vendor, description, example)
    for rtype, vendor, key, vtype, description, example in _ROWS
)
