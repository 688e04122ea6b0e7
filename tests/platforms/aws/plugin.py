"""The aws:aws plugin run in the test process, built exactly as the service builds it.

The service runs it in a child process (tests through the API do that); here the
class comes from the plugin folder by the SDK's own loader and runs under the SDK's
testing helpers, so a test can look at what it yielded, what it reported incomplete
and which calls boto3 made.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi.testclient import TestClient

from factories import API
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.loader import load_class, package_name
from inventory_providers.testing import make_provider

FOLDER = Path(__file__).resolve().parents[3] / "plugins" / "aws" / "aws"
SEED_ENDPOINT = "https://ec2.us-east-1.amazonaws.com"
SEED_CONFIG = {
    "username": "AKIAIOSFODNN7EXAMPLE",
    "password": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
}
"""Seed 000's curl example for AWS, verbatim."""

SEED_BODY = {
    "name": "AWS Production - us-east-1",
    "infrastructure": "public_cloud",
    "vendor": "aws",
    "provider_type": "aws",
    "endpoint": SEED_ENDPOINT,
    "organization": 1,
    "connection_config": SEED_CONFIG,
}
"""Seed 000's curl example for AWS, verbatim: the body of its provider."""


def seed_provider(client: TestClient) -> int:
    """A provider created with seed 000's body; its id."""
    response = client.post(f"{API}/providers/", json=SEED_BODY)
    assert response.status_code == 201, response.text
    provider_id: int = response.json()["id"]
    return provider_id


def provider_class() -> type[BaseProvider]:
    return load_class(FOLDER, "provider.AwsProvider")


def module(name: str) -> ModuleType:
    """One of the plugin's own modules, as the SDK's loader imported it."""
    provider_class()
    return importlib.import_module(f"{package_name(FOLDER)}.{name}")


def make(endpoint: str | None = SEED_ENDPOINT, **config: Any) -> BaseProvider:
    """The provider for seed 000's payload with ``config`` added (a None value removes a key)."""
    merged = {**SEED_CONFIG, **config}
    merged = {k: v for k, v in merged.items() if v is not None}
    return make_provider(provider_class(), endpoint=endpoint, connection_config=merged)


def collect(
    provider: BaseProvider, *, on_call: Callable[[str], None] | None = None
) -> list[ResourceData]:
    """connect, collect everything, disconnect; ``on_call`` hears each AWS operation."""
    with provider:
        if on_call is not None:
            events = provider.connection.session.events  # type: ignore[attr-defined]
            events.register("after-call.*.*", lambda model, **_: on_call(model.name))
        return list(provider.collect())


def by_type(resources: list[ResourceData]) -> dict[str, dict[str, ResourceData]]:
    """type -> ems_ref -> resource; fails if any ems_ref came twice."""
    counts = Counter(r.ems_ref for r in resources)
    twice = [ref for ref, n in counts.items() if n > 1]
    assert twice == [], f"yielded more than once: {twice[:5]}"
    out: dict[str, dict[str, ResourceData]] = {}
    for resource in resources:
        out.setdefault(resource.resource_type_slug, {})[resource.ems_ref] = resource
    return out


def edges(resource: ResourceData) -> set[tuple[str, str]]:
    """``(relationship_type, target_ems_ref)`` of each edge the resource carries."""
    return {(e["relationship_type"], e["target_ems_ref"]) for e in resource.relationships}  # type: ignore[index]
