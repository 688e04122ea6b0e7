"""Fixtures of the vmware:vcenter plugin's tests: vcsim of several sizes, the plugin class.

Every vcsim runs on a free loopback port as its own process, stopped by its PID at the
end. A missing vcsim fails the test (``make platforms`` builds it); it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import REPO
from emulators import silent
from emulators.vcsim import Size, Vcsim, vcsim
from inventory_providers.base import BaseProvider
from inventory_providers.loader import load_class

PLUGIN = REPO / "plugins" / "vmware" / "vcenter"
# 1,500 VMs on 105 hosts: 10 clusters of 10 hosts and 5 standalone hosts, 100 VMs in
# each cluster's resource pool and on each standalone host (vcsim counts VMs per pool).
LARGE = Size(clusters=10, hosts_per_cluster=10, standalone_hosts=5, vms=100)
TENTH = Size(clusters=10, hosts_per_cluster=10, standalone_hosts=5, vms=10)
SMALL = Size(datacenters=2, clusters=2, hosts_per_cluster=2, standalone_hosts=1, vms=2, pools=1)
USER, PASSWORD = "administrator@vsphere.local", "vcsim-test-password"


def started(size: Size, **login: str) -> Iterator[Vcsim]:
    try:
        with vcsim(size, **login) as simulator:
            yield simulator
    except RuntimeError as exc:  # never a skip: CI must have vcsim (make platforms)
        pytest.fail(f"vcsim cannot start: {exc}")


@pytest.fixture(scope="session")
def vcenter_class() -> type[BaseProvider]:
    """The plugin's provider class, imported from its folder as the service imports it."""
    return load_class(PLUGIN, "provider.VCenterProvider")


@pytest.fixture(scope="module")
def large_vcsim() -> Iterator[Vcsim]:
    """1,500 VMs across 105 hosts (starts in about two seconds); tests only read it."""
    yield from started(LARGE)


@pytest.fixture(scope="module")
def tenth_vcsim() -> Iterator[Vcsim]:
    """The same 105 hosts with 150 VMs; tests only read it."""
    yield from started(TENTH)


@pytest.fixture
def small_vcsim() -> Iterator[Vcsim]:
    """Two datacenters, each with 2 clusters of 2 hosts, a standalone host, a child
    resource pool per cluster and 6 VMs; a fresh one per test, which may change it."""
    yield from started(SMALL)


@pytest.fixture
def locked_vcsim() -> Iterator[Vcsim]:
    """A small vcsim that accepts one user and password only."""
    yield from started(Size(), username=USER, password=PASSWORD)


@pytest.fixture
def esxi_vcsim() -> Iterator[Vcsim]:
    """A standalone ESXi host with 2 VMs, as vcsim simulates one (no vCenter above it)."""
    yield from started(Size(esx=True, vms=2))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    return silent.closed_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word (a hung host)."""
    with silent.silent_listener() as port:
        yield port
