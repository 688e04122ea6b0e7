"""Fixtures for the ipmi:bmc plugin: its class, ipmi_sim BMCs, and the plugin built for
a BMC as the service builds it for a job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from emulators.ipmi_sim import Bmc, running_bmc
from inventory_providers.base import BaseProvider
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider

PLUGIN_DIR = REPO / "plugins" / "ipmi" / "bmc"


@pytest.fixture(scope="session")
def bmc_class() -> type[BaseProvider]:
    """The plugin's provider class, imported from its folder as the service imports it."""
    return load_class(PLUGIN_DIR, "provider.IpmiBmcProvider")


@pytest.fixture(scope="session")
def shared_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bmc]:
    """One BMC for the tests that only read it; a test that changes one starts its own."""
    with running_bmc(tmp_path_factory.mktemp("shared-bmc")) as bmc:
        yield bmc


@pytest.fixture
def bmc(tmp_path: Path) -> Iterator[Bmc]:
    """A BMC of this test's own (powered on)."""
    with running_bmc(tmp_path / "bmc") as started:
        yield started


@pytest.fixture
def bmc_config() -> Callable[..., dict[str, Any]]:
    """``bmc_config(bmc, **overrides)``: seed 000's connection_config, pointed at ``bmc``."""

    def build(bmc: Bmc, **overrides: Any) -> dict[str, Any]:
        return {"username": bmc.username, "password": bmc.password, "port": bmc.port, **overrides}

    return build


@pytest.fixture
def bmc_provider(
    bmc_class: type[BaseProvider], bmc_config: Callable[..., dict[str, Any]]
) -> Callable[..., BaseProvider]:
    """``bmc_provider(bmc, **overrides)``: the plugin for ``bmc``, as built for a job."""

    def build(bmc: Bmc, **overrides: Any) -> BaseProvider:
        config = bmc_config(bmc, **overrides)
        return make_provider(bmc_class, endpoint=bmc.host, connection_config=config)

    return build
