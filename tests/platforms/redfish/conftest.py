"""sushy-emulator over a small libvirt test host: a real Redfish service on loopback.

Each domain of the host is a ComputerSystem with its own Manager. A test changes the
BMC by writing the host file again and restarting the emulator (``bmc.restart()``).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.libvirt_host import LibvirtHost, standard_host
from emulators.sushy import Sushy, sushy_emulator

USER, PASSWORD = "redfish-reader", "Bmc-s3cret-pass"


@pytest.fixture
def servers() -> LibvirtHost:
    """Four servers: one powered off, the others on."""
    host = standard_host(4)
    host.domain("vm00001").runstate = "shutoff"
    return host


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    return tmp_path / "servers.xml"


@pytest.fixture
def bmc(servers: LibvirtHost, host_file: Path, tmp_path: Path) -> Iterator[Sushy]:
    """sushy-emulator with basic auth (``USER``/``PASSWORD``), over ``servers``."""
    uri = servers.write(host_file)
    with sushy_emulator(uri, tmp_path / "sushy", auth=(USER, PASSWORD)) as running:
        yield running


@pytest.fixture
def live_bmc(tmp_path: Path) -> Iterator[Sushy]:
    """sushy-emulator (basic auth) over libvirt's shared ``test:///default`` host: one
    running server, ``test``. Actions need it: over a host *file* every libvirt open is
    a private copy, and sushy changes a domain through one connection and reads it
    through another, so no change it makes would ever show."""
    with sushy_emulator("test:///default", tmp_path / "sushy", auth=(USER, PASSWORD)) as running:
        yield running
