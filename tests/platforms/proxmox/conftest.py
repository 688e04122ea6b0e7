"""Fixtures for the proxmox:pve plugin: its class, fakepve started per test, and the
plugin built for a fakepve as the service builds it for a job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import REPO
from emulators.fakepve import FakePve, guests, running_fakepve
from inventory_providers.base import BaseProvider
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider

PLUGIN_DIR = REPO / "plugins" / "proxmox" / "pve"
SeedConfig = Callable[..., dict[str, Any]]
ProviderFor = Callable[..., BaseProvider]


@pytest.fixture(scope="session")
def pve_class() -> type[BaseProvider]:
    """The plugin's provider class, imported from its folder as the service imports it."""
    return load_class(PLUGIN_DIR, "provider.ProxmoxProvider")


@pytest.fixture(scope="session")
def fakepve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePve]:
    """fakepve with 24 guests on two nodes (a few containers, Chatsubo labels on some),
    shared by the tests that only read it; a test that changes a fake starts its own."""
    with running_fakepve(tmp_path_factory.mktemp("fakepve"), guests(24)) as pve:
        yield pve


@pytest.fixture
def seed_config() -> SeedConfig:
    """``seed_config(pve, **overrides)``: seed 000's connection_config, pointed at ``pve``."""

    def build(pve: FakePve, **overrides: Any) -> dict[str, Any]:
        return {
            "username": pve.user,
            "password": pve.password,
            "port": pve.port,
            "verify_ssl": False,
            **overrides,
        }

    return build


@pytest.fixture
def pve_provider(pve_class: type[BaseProvider], seed_config: SeedConfig) -> ProviderFor:
    """``pve_provider(pve, **overrides)``: the plugin for ``pve``, as built for a job."""

    def build(pve: FakePve, **overrides: Any) -> BaseProvider:
        config = seed_config(pve, **overrides)
        return make_provider(pve_class, endpoint=pve.host, connection_config=config)

    return build
