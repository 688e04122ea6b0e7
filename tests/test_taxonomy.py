from estate import taxonomy
from estate.taxonomy import RESOURCE_TYPES, ResourceType

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
    for expected in ("storage", "network", "database", "serverless", "container"):
        assert expected in cats
    assert {t.category for t in RESOURCE_TYPES} == set(cats)


def test_infrastructure_extras_are_known() -> None:
    for slug in ("datacenter", "cluster", "resource_pool", "template", "snapshot", "bmc"):
        assert taxonomy.is_known(slug), slug
    assert taxonomy.get("bmc") is not None
