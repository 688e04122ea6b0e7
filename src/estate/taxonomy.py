"""The resource-type taxonomy: every ``resource_type_slug`` a plugin may emit.

The slugs follow the taxonomy of the inventory service that seed 000 describes
(``virtual_machine``, ``hypervisor_host``, ``block_storage``, …), so plugins
written for it name their resources unchanged. A plugin's ``manifest.yml``
lists the slugs it collects in ``supported_resource_types``; each must be here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One kind of resource: ``slug`` is the stable key, ``name`` the label."""

    slug: str
    name: str
    category: str
    description: str


def _t(slug: str, name: str, category: str, description: str) -> ResourceType:
    return ResourceType(slug=slug, name=name, category=category, description=description)


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    # compute
    _t("virtual_machine", "Virtual Machine", "compute",
       "A virtual machine or cloud instance (vSphere VM, EC2 instance, libvirt domain)."),
    _t("hypervisor_host", "Hypervisor Host", "compute",
       "A physical host running a hypervisor (ESXi host, KVM host, Proxmox VE node)."),
    _t("bare_metal", "Bare Metal Server", "compute",
       "A physical server used without a hypervisor (EC2 bare metal, Ironic node)."),
    _t("physical_server", "Physical Server", "compute",
       "A physical machine managed as a node by a platform (e.g. an OpenShift worker)."),
    _t("cluster", "Compute Cluster", "compute",
       "Hypervisor hosts pooled and managed together (vSphere cluster, Proxmox cluster)."),
    _t("resource_pool", "Resource Pool", "compute",
       "A share of a cluster's CPU and memory (vSphere resource pool, Proxmox pool)."),
    _t("auto_scaling_group", "Auto-Scaling Group", "compute",
       "A managed group of instances (AWS Auto Scaling group, VM scale set); "
       "seed plugins also use it for vSphere resource pools."),
    _t("template", "Template", "compute",
       "A machine that new instances are cloned from (vSphere template, Proxmox template)."),
    _t("image", "Image", "compute",
       "A bootable machine or disk image (AMI, Glance image, qcow2 in a pool)."),
    _t("paas_instance", "PaaS Instance", "compute",
       "An application running on a platform service (App Service, Elastic Beanstalk)."),
    # container
    _t("container_orchestration_platform", "Container Orchestration Platform", "container",
       "A Kubernetes or similar cluster (EKS, AKS, OpenShift); seed plugins also use "
       "it for vSphere clusters."),
    _t("container", "Container", "container", "A running container or pod."),
    _t("container_registry", "Container Registry", "container",
       "A registry of container images (ECR, Harbor, Quay)."),
    # serverless
    _t("serverless_function", "Serverless Function", "serverless",
       "A function run on demand (Lambda, Azure Functions, Cloud Functions)."),
    _t("workflow_orchestration", "Workflow Orchestration", "serverless",
       "A managed workflow of steps (Step Functions, Logic Apps)."),
    # storage
    _t("block_storage", "Block Storage", "storage",
       "A volume or datastore holding disks (EBS volume, vSphere datastore, Ceph RBD)."),
    _t("object_storage", "Object Storage", "storage", "A bucket of objects (S3, Blob, Swift)."),
    _t("file_storage", "File Storage", "storage", "A shared file system (EFS, NFS export, SMB)."),
    _t("storage_pool", "Storage Pool", "storage",
       "A pool that volumes are carved from (libvirt pool, Proxmox storage, Ceph pool)."),
    _t("snapshot", "Snapshot", "storage",
       "A point-in-time copy of a machine or volume, which it can be rolled back to."),
    _t("backup", "Backup", "storage", "A stored backup of a machine, volume or database."),
    # network
    _t("vpc", "Virtual Private Cloud", "network",
       "An isolated virtual network (AWS VPC, Azure VNet, GCP VPC network)."),
    _t("subnet", "Subnet", "network", "An address range inside a virtual network."),
    _t("security_group", "Security Group", "network",
       "Firewall rules attached to instances or subnets (security group, NSG, ACL)."),
    _t("load_balancer", "Load Balancer", "network",
       "A service spreading traffic over targets (ALB, NLB, HAProxy, F5 virtual server)."),
    _t("network", "Network", "network",
       "A layer-2 network or port group (vSphere network, libvirt network, VLAN)."),
    _t("virtual_switch", "Virtual Switch", "network",
       "A software switch on a host (vSwitch, distributed switch, Linux or OVS bridge)."),
    _t("network_interface", "Network Interface", "network",
       "A virtual or physical NIC (ENI, vNIC) with its addresses."),
    _t("switch", "Switch", "network", "A physical network switch."),
    _t("router", "Router", "network", "A router, physical or virtual."),
    _t("firewall", "Firewall", "network", "A firewall appliance or managed firewall."),
    _t("gateway", "Gateway", "network", "An internet, NAT or transit gateway."),
    _t("vpn", "VPN", "network", "A VPN gateway or connection."),
    _t("dns_service", "DNS Service", "network", "A DNS, DHCP or IPAM service."),
    _t("dns_zone", "DNS Zone", "network", "A DNS zone and its records (Route 53 hosted zone)."),
    _t("cdn", "CDN", "network", "A content delivery distribution (CloudFront, Azure CDN)."),
    # database
    _t("relational_db", "Relational Database", "database",
       "A SQL database instance or cluster (RDS, Cloud SQL, PostgreSQL)."),
    _t("nosql_db", "NoSQL Database", "database",
       "A document, key-value or wide-column store (DynamoDB, Cosmos DB, MongoDB)."),
    _t("in_memory_db", "In-Memory Database", "database",
       "An in-memory store or cache (ElastiCache, Redis, Memcached)."),
    _t("data_warehouse", "Data Warehouse", "database",
       "An analytics database (Redshift, BigQuery, Synapse)."),
    # organization: where resources live, rather than what they are
    _t("datacenter", "Datacenter", "organization",
       "A site or top-level container of an estate (vSphere datacenter)."),
    _t("folder", "Folder", "organization", "A folder that groups inventory objects."),
    _t("tenant", "Tenant", "organization",
       "An account, project or tenant that owns resources (AWS account, OpenStack project)."),
    _t("orchestration_stack", "Orchestration Stack", "organization",
       "A declarative infrastructure stack (CloudFormation, Heat, ARM deployment)."),
    # management: what manages or reaches the rest
    _t("bmc", "Baseboard Management Controller", "management",
       "An out-of-band controller reached over IPMI or Redfish (iDRAC, iLO)."),
    _t("management_server", "Management Server", "management",
       "A server that manages other resources (vCenter Server, Proxmox VE cluster manager)."),
    _t("key_management", "Key Management", "management",
       "A key store or KMS key (AWS KMS, Key Vault, Vault transit)."),
)  # fmt: skip

_BY_SLUG: dict[str, ResourceType] = {t.slug: t for t in RESOURCE_TYPES}


def get(slug: str) -> ResourceType | None:
    """Return the resource type with this slug, or ``None`` if there is none."""
    return _BY_SLUG.get(slug)


def is_known(slug: str) -> bool:
    """Tell whether ``slug`` names a resource type of the taxonomy."""
    return slug in _BY_SLUG


def categories() -> list[str]:
    """Return every category, in the order the taxonomy first uses it."""
    return list(dict.fromkeys(t.category for t in RESOURCE_TYPES))
