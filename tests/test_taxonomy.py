from pathlib import Path

from estate import taxonomy
from estate.taxonomy import RESOURCE_TYPES, ResourceType, properties, vendor_types

SEED_SLUGS = (
    "virtual_machine",
    "hypervisor_host",
    "container_orchestration_platform",
    "block_storage",
    "auto_scaling_group",
    "vpc",
    "security_group",
    "object_storage",
    "relational_db",
    "load_balancer",
    "serverless_function",
)


def test_every_slug_of_seed_000_is_known() -> None:
    for slug in SEED_SLUGS:
        assert taxonomy.is_known(slug), slug


def test_slugs_are_unique_lowercase_and_described() -> None:
    slugs = [t.slug for t in RESOURCE_TYPES]
    assert len(slugs) == len(set(slugs))
    for t in RESOURCE_TYPES:
        assert t.slug == t.slug.lower() and " " not in t.slug
        assert t.name and t.description and t.category


def test_get_returns_the_type_or_none() -> None:
    vm = taxonomy.get("virtual_machine")
    assert vm == ResourceType(
        slug="virtual_machine",
        name="Virtual Machine",
        category="compute",
        description=vm.description if vm else "",
    )
    assert taxonomy.get("vm") is None
    assert not taxonomy.is_known("vm")
    assert not taxonomy.is_known("")


def test_categories_are_listed_once_in_order() -> None:
    cats = taxonomy.categories()
    assert len(cats) == len(set(cats))
    assert cats[0] == "compute"
    for expected in ("storage", "networking", "database", "serverless", "containers"):
        assert expected in cats
    assert {t.category for t in RESOURCE_TYPES} == set(cats)
    orders = [c.sort_order for c in taxonomy.CATEGORIES]
    assert orders == sorted(orders)


# The seed service's categories (its taxonomy seed migration): all of them, same slugs.
SEED_CATEGORIES = (
    "compute", "storage", "database", "networking", "security_identity", "monitoring",
    "app_integration", "data_processing", "ai_ml", "devops", "containers", "serverless",
    "governance_ops", "hybrid_edge", "migration",
)  # fmt: skip

# Slugs that Estate served before the taxonomy grew: plugins and stored resources use them.
ESTATE_SLUGS_BEFORE = (
    "virtual_machine", "hypervisor_host", "bare_metal", "physical_server", "cluster",
    "resource_pool", "auto_scaling_group", "template", "image", "paas_instance",
    "container_orchestration_platform", "container", "container_registry",
    "serverless_function", "workflow_orchestration", "block_storage", "object_storage",
    "file_storage", "storage_pool", "snapshot", "backup", "vpc", "subnet", "security_group",
    "load_balancer", "network", "virtual_switch", "network_interface", "switch", "router",
    "firewall", "gateway", "vpn", "dns_service", "dns_zone", "cdn", "relational_db",
    "nosql_db", "in_memory_db", "data_warehouse", "datacenter", "folder", "tenant",
    "orchestration_stack", "bmc", "management_server", "key_management",
)  # fmt: skip


def test_the_seed_categories_are_all_there_with_types() -> None:
    assert set(SEED_CATEGORIES) <= set(taxonomy.categories())
    assert len(RESOURCE_TYPES) >= 80
    for slug in SEED_CATEGORIES:
        assert taxonomy.types_of(slug), slug


def test_no_slug_estate_served_is_ever_gone() -> None:
    for slug in ESTATE_SLUGS_BEFORE:
        assert taxonomy.is_known(slug), slug


def test_ids_are_stable_uuids_and_lookups_take_either() -> None:
    vm = taxonomy.get("virtual_machine")
    assert vm is not None
    assert vm.id == taxonomy.stable_id("resource_type", "virtual_machine")
    assert taxonomy.find(vm.id) == vm and taxonomy.find("virtual_machine") == vm
    assert len({t.id for t in RESOURCE_TYPES}) == len(RESOURCE_TYPES)
    compute = taxonomy.category("compute")
    assert compute is not None and taxonomy.category(compute.id) == compute
    assert taxonomy.category("network") == taxonomy.category("networking")
    assert taxonomy.category("nosuch") is None


def test_built_in_mappings_and_properties_name_known_types() -> None:
    for mapping in vendor_types.BUILT_IN:
        assert taxonomy.is_known(mapping.resource_type), mapping
    keys = [(m.vendor, m.vendor_resource_type) for m in vendor_types.BUILT_IN]
    assert len(keys) == len(set(keys))
    assert ("vmware", "VirtualMachine") in keys
    by_key = {(m.vendor, m.vendor_resource_type): m.resource_type for m in vendor_types.BUILT_IN}
    # As the built-in plugins file what they report (vmware:vcenter, proxmox:pve, ipmi:bmc).
    assert by_key["vmware", "ClusterComputeResource"] == "container_orchestration_platform"
    assert by_key["proxmox", "Proxmox VE node"] == "hypervisor_host"
    assert by_key["ipmi", "IPMI BMC"] == "bmc"
    for definition in properties.PROPERTY_DEFINITIONS:
        assert taxonomy.is_known(definition.resource_type), definition
        assert definition.value_type in properties.VALUE_TYPES, definition
    ids = [d.id for d in properties.PROPERTY_DEFINITIONS]
    assert len(ids) == len(set(ids))


def test_docs_list_every_category_and_type() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "taxonomy.md").read_text()
    for category in taxonomy.CATEGORIES:
        assert f"`{category.slug}`" in text, category.slug
    for t in RESOURCE_TYPES:
        assert f"| `{t.slug}` |" in text, t.slug


def test_infrastructure_extras_are_known() -> None:
    for slug in ("datacenter", "cluster", "resource_pool", "template", "snapshot", "bmc"):
        assert taxonomy.is_known(slug), slug
    assert taxonomy.get("bmc") is not None
