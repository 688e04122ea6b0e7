"""The resource-type taxonomy: every ``resource_type_slug`` a plugin may emit.

This package is the one source of truth for resource types: the host refuses a
resource whose slug is not here (``inventory.records``), a manifest naming one
is refused (``registry.manifest``), and the API serves it (``resource-types/``,
``resource-categories/``). The SDK checks only that a slug is well formed.

The categories and slugs follow the taxonomy of the inventory service that seed
000 describes (its 15 categories; ``virtual_machine``, ``hypervisor_host``, …),
so plugins written for it name their resources unchanged; Estate adds the types
its own plugins need (``datacenter``, ``bmc``, ``storage_pool``, …) and two
categories for them. Slugs are never renamed or removed: resources and plugins
store them. docs/taxonomy.md lists them all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .types import TYPE_TABLE

# Ids are UUIDs, as the seed's service gives them, derived from the slug so that
# they never change between releases or installations.
_NAMESPACE = uuid.UUID("0b5e7f3a-6c1d-4c7e-9a51-2f3e8d9c4b10")


def stable_id(kind: str, key: str) -> str:
    """The UUID of a taxonomy entry: the same for the same ``kind`` and ``key``, always."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


@dataclass(frozen=True, slots=True)
class Category:
    """A level-1 grouping of resource types (compute, storage, networking, …)."""

    slug: str
    name: str
    description: str
    sort_order: int

    @property
    def id(self) -> str:
        return stable_id("category", self.slug)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One kind of resource: ``slug`` is the stable key, ``name`` the label.

    ``is_countable`` says whether a resource of the type counts as a managed node
    (for licensing reports): containers of others (datacenter, folder) do not.
    The strategic-value scores are the seed taxonomy's, where it has the type.
    """

    slug: str
    name: str
    category: str
    description: str
    is_countable: bool = field(default=True, compare=False)
    sort_order: int = field(default=0, compare=False)
    long_term_strategic_value: int | None = field(default=None, compare=False)
    short_term_opportunity: int | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return stable_id("resource_type", self.slug)


CATEGORIES: tuple[Category, ...] = (
    Category("compute", "Compute",
             "Virtual machines, hypervisors, bare metal, clusters, auto-scaling", 10),
    Category("storage", "Storage", "Object, block, file and archive storage", 20),
    Category("database", "Database",
             "Relational, NoSQL, data warehouse, time series, in-memory", 30),
    Category("networking", "Networking",
             "Switches, routers, firewalls, load balancers, VPCs, DNS, VPNs, SDN", 40),
    Category("security_identity", "Security & Identity",
             "IAM, key management, certificate management, firewall policies", 50),
    Category("monitoring", "Monitoring", "Logs, metrics, audit trails", 60),
    Category("app_integration", "App Integration & Messaging",
             "Message queues, pub/sub, event streams, ESBs, API endpoints", 70),
    Category("data_processing", "Data Processing & Analytics",
             "Stream processing, batch processing, data lakes, BI tools", 80),
    Category("ai_ml", "AI/ML",
             "ML platforms, model hosting, inference engines, pre-trained AI services", 90),
    Category("devops", "DevOps", "CI/CD, IaC, code repos, artifact repos", 100),
    Category("containers", "Containers",
             "Containers, container registries and orchestration platforms", 110),
    Category("serverless", "Serverless", "Functions and workflow orchestration", 120),
    Category("governance_ops", "Governance & Operations",
             "ITSM, CMDB, cost management, vulnerability management, secrets, DLP", 130),
    Category("hybrid_edge", "Hybrid & Edge",
             "Dedicated connections, edge compute, edge orchestration", 140),
    Category("migration", "Migration & Data Transfer",
             "Data migration, VM migration, data transfer services", 150),
    # Estate's own: where resources live, and what manages or reaches the rest.
    Category("organization", "Organization",
             "Datacenters, folders, tenants: where resources live rather than what they are",
             160),
    Category("management", "Management",
             "Management servers and out-of-band controllers that reach other resources", 170),
)  # fmt: skip

# Category slugs Estate used before it took the seed's names; the API still
# accepts them as filters.
CATEGORY_ALIASES = {"network": "networking", "container": "containers"}


def _build() -> tuple[ResourceType, ...]:
    out: list[ResourceType] = []
    position: dict[str, int] = {}
    for slug, name, category, description, countable, ltsv, sto in TYPE_TABLE:
        position[category] = position.get(category, 0) + 10
        out.append(
            ResourceType(
                slug, name, category, description, countable, position[category], ltsv, sto
            )
        )
    return tuple(out)


RESOURCE_TYPES: tuple[ResourceType, ...] = _build()

_BY_SLUG: dict[str, ResourceType] = {t.slug: t for t in RESOURCE_TYPES}
_BY_ID: dict[str, ResourceType] = {t.id: t for t in RESOURCE_TYPES}
_CATEGORY_BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}
_CATEGORY_BY_ID: dict[str, Category] = {c.id: c for c in CATEGORIES}


def get(slug: str) -> ResourceType | None:
    """Return the resource type with this slug, or ``None`` if there is none."""
    return _BY_SLUG.get(slug)


def find(key: str) -> ResourceType | None:
    """The resource type with this slug or id (the seed's clients address it by id)."""
    return _BY_SLUG.get(key) or _BY_ID.get(key)


def is_known(slug: str) -> bool:
    """Tell whether ``slug`` names a resource type of the taxonomy."""
    return slug in _BY_SLUG


def categories() -> list[str]:
    """Return every category slug, in display order."""
    return [c.slug for c in CATEGORIES]


def category(key: str) -> Category | None:
    """The category with this slug, former slug or id."""
    key = CATEGORY_ALIASES.get(key, key)
    return _CATEGORY_BY_SLUG.get(key) or _CATEGORY_BY_ID.get(key)


def types_of(category_slug: str) -> list[ResourceType]:
    """The resource types of a category, in display order."""
    return [t for t in RESOURCE_TYPES if t.category == category_slug]
