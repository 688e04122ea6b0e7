"""Well-known vendor type names and the resource type each maps to.

A platform names its objects in its own words (vSphere ``VirtualMachine``, AWS
``AWS::EC2::Instance``, the seed taxonomy's ``EC2 Instance``); these tables say
which resource type each is. Plugins declare their own in the manifest
(``vendor_type_mappings``); the API lists both, a plugin's entry taking the
place of a built-in one for the same vendor and name.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import stable_id


@dataclass(frozen=True, slots=True)
class VendorTypeMapping:
    """``vendor``'s native name ``vendor_resource_type`` is a ``resource_type``."""

    vendor: str
    vendor_resource_type: str
    resource_type: str
    ansible_collection: str = ""
    ansible_module: str = ""
    source: str = "built-in"
    """``built-in``, or the key of the plugin whose manifest declared it."""

    @property
    def id(self) -> str:
        return stable_id("vendor_type", f"{self.vendor}\x00{self.vendor_resource_type}")


# vendor → (Ansible collection, {native name: resource type slug})
_TABLE: dict[str, tuple[str, dict[str, str]]] = {
    "aws": ("amazon.aws", {
        # the seed taxonomy's names
        "EC2 Instance": "virtual_machine",
        "EC2 Bare Metal": "bare_metal",
        "Auto Scaling Group": "auto_scaling_group",
        "S3 Bucket": "object_storage",
        "EBS Volume": "block_storage",
        "EFS": "file_storage",
        "VPC": "vpc",
        "ELB": "load_balancer",
        "CloudFront Distribution": "cdn",
        "Route 53 Hosted Zone": "dns_service",
        "RDS Instance": "relational_db",
        "DynamoDB Table": "nosql_db",
        "Redshift Cluster": "data_warehouse",
        "IAM": "iam",
        "KMS Key": "key_management",
        "Security Group": "security_group",
        "ACM Certificate": "certificate_management",
        "CloudWatch": "logs_metrics",
        "CloudTrail": "audit_trail",
        "SQS Queue": "message_queue",
        "SNS Topic": "pubsub",
        "SageMaker": "ml_platform",
        "SageMaker Endpoint": "model_hosting",
        "Kinesis Stream": "stream_processing",
        "EMR Cluster": "batch_processing",
        "CodePipeline": "cicd_pipeline",
        "CloudFormation Stack": "orchestration_stack",
        "ECR Repository": "container_registry",
        "EKS Cluster": "container_orchestration_platform",
        "Lambda Function": "serverless_function",
        "Step Functions": "workflow_orchestration",
        "Direct Connect": "dedicated_connection",
        "Outposts": "edge_compute_device",
        "DMS": "db_migration_service",
        "MGN": "vm_migration_tool",
        # CloudFormation type names, as the aws:aws plugin reports vendor_type
        "AWS::EC2::Instance": "virtual_machine",
        "AWS::EC2::Volume": "block_storage",
        "AWS::EC2::VPC": "vpc",
        "AWS::EC2::Subnet": "subnet",
        "AWS::EC2::SecurityGroup": "security_group",
        "AWS::AutoScaling::AutoScalingGroup": "auto_scaling_group",
        "AWS::S3::Bucket": "object_storage",
        "AWS::RDS::DBInstance": "relational_db",
        "AWS::Lambda::Function": "serverless_function",
        "AWS::EKS::Cluster": "container_orchestration_platform",
        "AWS::ElasticLoadBalancingV2::LoadBalancer": "load_balancer",
    }),
    "azure": ("azure.azcollection", {
        "Virtual Machine": "virtual_machine",
        "Virtual Machine Scale Set": "auto_scaling_group",
        "Blob Storage": "object_storage",
        "Managed Disk": "block_storage",
        "Azure Files": "file_storage",
        "Virtual Network (VNet)": "vpc",
        "Azure Load Balancer": "load_balancer",
        "Application Gateway": "load_balancer",
        "Azure DNS": "dns_service",
        "Azure SQL": "relational_db",
        "Cosmos DB": "nosql_db",
        "Azure Synapse": "data_warehouse",
        "Key Vault": "key_management",
        "NSG": "security_group",
        "Azure Firewall": "firewall",
        "Azure Monitor": "logs_metrics",
        "Activity Log": "audit_trail",
        "Service Bus": "pubsub",
        "AKS Cluster": "container_orchestration_platform",
        "Azure Container Registry": "container_registry",
        "Azure Functions": "serverless_function",
        "Logic Apps": "workflow_orchestration",
        "ARM Deployment": "orchestration_stack",
        "ExpressRoute": "dedicated_connection",
    }),
    "gcp": ("google.cloud", {
        "Compute Engine Instance": "virtual_machine",
        "Managed Instance Group": "auto_scaling_group",
        "Cloud Storage Bucket": "object_storage",
        "Persistent Disk": "block_storage",
        "Filestore": "file_storage",
        "VPC Network": "vpc",
        "Cloud Load Balancing": "load_balancer",
        "Cloud DNS Zone": "dns_service",
        "Cloud SQL Instance": "relational_db",
        "Firestore": "nosql_db",
        "BigQuery Dataset": "data_warehouse",
        "Cloud KMS": "key_management",
        "VPC Firewall Rule": "security_group",
        "Pub/Sub Topic": "pubsub",
        "GKE Cluster": "container_orchestration_platform",
        "Artifact Registry": "container_registry",
        "Cloud Function": "serverless_function",
        "Deployment Manager": "orchestration_stack",
        "Interconnect": "dedicated_connection",
    }),
    "vmware": ("vmware.vmware", {
        # the seed taxonomy's names
        "vSphere VM": "virtual_machine",
        "ESXi Host": "hypervisor_host",
        "vSAN Datastore": "block_storage",
        "NSX-T Segment": "vlan_segment",
        "NSX Load Balancer": "load_balancer",
        "NSX DFW": "firewall_policy",
        "Tanzu Kubernetes Grid": "container_orchestration_platform",
        "Harbor Registry": "container_registry",
        "HCX": "vm_migration_tool",
        # vSphere managed-object types, as the vmware:vcenter plugin reports vendor_type
        # and files them: clusters and resource pools under the seed plugins' slugs.
        "VirtualMachine": "virtual_machine",
        "HostSystem": "hypervisor_host",
        "ClusterComputeResource": "container_orchestration_platform",
        "ResourcePool": "auto_scaling_group",
        "VirtualApp": "auto_scaling_group",
        "Datastore": "block_storage",
        "Network": "network",
        "DistributedVirtualPortgroup": "network",
        "VmwareDistributedVirtualSwitch": "virtual_switch",
        "Datacenter": "datacenter",
        "Folder": "folder",
    }),
    "simulated": ("", {
        "VirtualMachine": "virtual_machine",
        "HostSystem": "hypervisor_host",
        "ClusterComputeResource": "container_orchestration_platform",
        "Datastore": "block_storage",
        "DistributedVirtualPortgroup": "network",
    }),
    "proxmox": ("community.general", {
        "Proxmox VE cluster": "cluster",
        "Proxmox VE node": "hypervisor_host",
        "QEMU virtual machine": "virtual_machine",
        "LXC container": "virtual_machine",
    }),
    "ipmi": ("community.general", {
        "IPMI managed system": "bare_metal",
        "IPMI BMC": "bmc",
    }),
    "openstack": ("openstack.cloud", {
        "Nova Instance": "virtual_machine",
        "Nova Compute Node": "hypervisor_host",
        "Ironic Node": "bare_metal",
        "Swift Container": "object_storage",
        "Cinder Volume": "block_storage",
        "Manila Share": "file_storage",
        "Neutron Network": "vpc",
        "Octavia Load Balancer": "load_balancer",
        "Designate Zone": "dns_service",
        "Neutron Security Group": "security_group",
        "Keystone": "iam",
        "Barbican Secret": "key_management",
        "Heat Stack": "orchestration_stack",
        "Magnum Cluster": "container_orchestration_platform",
    }),
    "openshift": ("redhat.openshift", {
        "OpenShift VM (KubeVirt/CNV)": "virtual_machine",
        "Worker Node": "physical_server",
        "Master Node": "physical_server",
        "OpenShift Kubernetes": "container_orchestration_platform",
        "Quay.io Registry": "container_registry",
        "NetworkPolicy": "firewall_policy",
        "OpenShift Pipelines (Tekton)": "cicd_pipeline",
    }),
    "redfish": ("", {
        "ComputerSystem": "bare_metal",
        "Manager": "bmc",
        "Chassis": "datacenter",
        "EthernetInterface": "network_interface",
    }),
    "libvirt": ("community.libvirt", {
        "libvirt kvm domain": "virtual_machine",
        "libvirt qemu domain": "virtual_machine",
        "libvirt dir pool": "storage_pool",
        "libvirt logical pool": "storage_pool",
        "libvirt volume": "block_storage",
        "libvirt network": "network",
    }),
    "cisco": ("cisco.ios", {
        "Catalyst 9K": "switch",
        "ISR Router": "router",
        "Nexus 9000 (NX-OS/ACI)": "switch",
        "ACI (APIC)": "sdn_controller",
        "Secure Firewall (Firepower)": "firewall",
        "ISE": "network_aaa",
    }),
    "juniper": ("junipernetworks.junos", {
        "QFX Series": "switch",
        "EX Series": "switch",
        "MX Series": "router",
        "SRX Series Firewall": "firewall",
    }),
    "netapp": ("netapp.ontap", {
        "ONTAP SAN (iSCSI/FC)": "block_storage",
        "ONTAP NAS (NFS/SMB)": "file_storage",
        "StorageGRID Bucket": "object_storage",
    }),
}  # fmt: skip

BUILT_IN: tuple[VendorTypeMapping, ...] = tuple(
    VendorTypeMapping(vendor, native, slug, collection)
    for vendor, (collection, names) in _TABLE.items()
    for native, slug in names.items()
)


def merged(declared: list[VendorTypeMapping]) -> list[VendorTypeMapping]:
    """The built-in mappings with plugins' ``declared`` ones, sorted as the seed sorts them.

    A declared mapping replaces a built-in one of the same vendor and native name.
    """
    by_key = {(m.vendor, m.vendor_resource_type): m for m in BUILT_IN}
    by_key.update({(m.vendor, m.vendor_resource_type): m for m in declared})
    return sorted(by_key.values(), key=lambda m: (m.vendor, m.vendor_resource_type))
