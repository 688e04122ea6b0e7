"""The redfish:bmc plugin in-process against sushy-emulator (a real Redfish service)."""

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.libvirt_host import LibvirtHost, domain_uuid
from emulators.silent import closed_port, silent_listener
from emulators.sushy import Sushy, sushy_emulator
from inventory_providers.errors import InvalidConfig, Unauthenticated, Unreachable
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider, run_provider

FOLDER = Path(__file__).resolve().parents[3] / "plugins" / "redfish" / "bmc"
RedfishBmc = load_class(FOLDER, "provider.RedfishBmcProvider")
USER, PASSWORD = "redfish-reader", "Bmc-s3cret-pass"


def collect(endpoint: str | None, **config: Any) -> list[dict[str, Any]]:
    found = run_provider(RedfishBmc, endpoint=endpoint, connection_config=config)
    return [r.to_dict() for r in found]


def of_type(resources: list[dict[str, Any]], slug: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources if r["resource_type_slug"] == slug}


def test_every_system_and_its_manager_are_collected(bmc: Sushy) -> None:
    found = collect(bmc.url, username=USER, password=PASSWORD)

    assert Counter(r["resource_type_slug"] for r in found) == {"bare_metal": 4, "bmc": 4}
    servers, managers = of_type(found, "bare_metal"), of_type(found, "bmc")
    assert {name: (s["state"], s["power_state"]) for name, s in servers.items()} == {
        "vm00000": ("running", "On"),
        "vm00001": ("stopped", "Off"),
        "vm00002": ("running", "On"),
        "vm00003": ("running", "On"),
    }
    server = servers["vm00003"]
    assert server["ems_ref"] == f"/redfish/v1/Systems/{domain_uuid(3)}"
    assert server["canonical_id"] == domain_uuid(3)
    assert (server["cpu_count"], server["memory_mb"]) == (4, 4096)
    assert server["properties"]["manufacturer"] == "Sushy Emulator"
    assert server["properties"]["boot_source_override_target"] == "Hdd"
    assert server["properties"]["boot_source_override_enabled"] == "Continuous"
    manager = managers["vm00003-Manager"]
    assert manager["ems_ref"] == f"/redfish/v1/Managers/{domain_uuid(3)}"
    assert (manager["state"], manager["properties"]["manager_type"]) == ("active", "BMC")
    assert manager["properties"]["firmware_version"] == "1.00"
    assert manager["properties"]["model"] == "Joo Janta 200"
    assert server["relationships"] == [
        {"target_ems_ref": manager["ems_ref"], "relationship_type": "managed_by"}
    ]
    assert "DateTime" not in str(manager)  # changes every second: no history churn


def test_one_system_the_bmc_cannot_render_is_reported_and_the_rest_collected(
    bmc: Sushy, servers: LibvirtHost, host_file: Path
) -> None:
    servers.domain("vm00002").broken_bios_metadata = True
    servers.write(host_file)
    provider = make_provider(
        RedfishBmc, endpoint=bmc.url, connection_config={"username": USER, "password": PASSWORD}
    )

    with provider:
        found = [r.to_dict() for r in provider.collect()]

    (part,) = provider.incomplete_parts
    assert part["part"] == f"system /redfish/v1/Systems/{domain_uuid(2)}"
    assert "HTTP 500" in part["error"]
    assert sorted(of_type(found, "bare_metal")) == ["vm00000", "vm00001", "vm00003"]
    assert len(of_type(found, "bmc")) == 4


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({}, "refused a request without credentials"),
        ({"username": USER, "password": "Wr0ng-Pa55"}, f"refused user '{USER}' \\(HTTP 401\\)"),
        ({"username": "mallory", "password": PASSWORD}, "refused user 'mallory'"),
    ],
    ids=["none", "wrong-password", "unknown-user"],
)
def test_missing_or_wrong_credentials_are_unauthenticated(
    bmc: Sushy, config: dict[str, str], says: str
) -> None:
    with pytest.raises(Unauthenticated, match=says) as raised:
        collect(bmc.url, **config)

    assert "Wr0ng-Pa55" not in str(raised.value)


def test_a_closed_port_is_unreachable_at_once() -> None:
    started = time.monotonic()

    with pytest.raises(Unreachable, match="check the BMC address"):
        collect(f"http://127.0.0.1:{closed_port()}", username=USER, password=PASSWORD)

    assert time.monotonic() - started < 5


def test_a_bmc_that_never_answers_is_unreachable_within_the_timeout() -> None:
    with silent_listener() as port:
        started = time.monotonic()

        with pytest.raises(Unreachable, match="no answer to GET /redfish/v1/ in time"):
            collect(f"http://127.0.0.1:{port}", username=USER, password=PASSWORD, timeout=2)

        assert time.monotonic() - started < 4


def test_https_with_a_self_signed_certificate(servers: LibvirtHost, tmp_path: Path) -> None:
    uri = servers.write(tmp_path / "servers.xml")
    with sushy_emulator(uri, tmp_path / "tls", auth=(USER, PASSWORD), tls=True) as bmc:
        port = int(bmc.url.rpartition(":")[2])
        credentials = {"username": USER, "password": PASSWORD}

        with pytest.raises(Unreachable, match=r"certificate does not verify.*verify_ssl"):
            collect(bmc.url, **credentials)
        # A bare host name is reached over HTTPS on the port parameter.
        found = collect("127.0.0.1", port=port, verify_ssl=False, **credentials)

    assert len(of_type(found, "bare_metal")) == 4


def test_the_connection_test_counts_the_systems_or_names_the_failure(bmc: Sushy) -> None:
    good = make_provider(
        RedfishBmc, endpoint=bmc.url, connection_config={"username": USER, "password": PASSWORD}
    )
    bad = make_provider(RedfishBmc, endpoint=bmc.url, connection_config={"username": USER})

    assert good.validate_connection() == (True, f"Redfish 1.5.0 at {bmc.url}: 4 systems")
    refused, reason = bad.validate_connection()
    assert not refused
    assert reason.startswith("Unauthenticated: ")


@pytest.mark.parametrize(
    ("endpoint", "config", "says"),
    [
        (None, {}, "endpoint: required"),
        ("ftp://bmc1", {}, "is not a BMC URL"),
        ("https://bmc1", {"timeout": "soon"}, "timeout: must be a number"),
        ("https://bmc1", {"concurrency": 0}, "concurrency: must be a number between 1 and 32"),
        ("https://bmc1", {"verify_ssl": "yes"}, "verify_ssl: must be true or false"),
    ],
)
def test_bad_settings_are_named(endpoint: str | None, config: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidConfig, match=says):
        collect(endpoint, **config)


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain web server on loopback (Python's http.server over an empty folder): what
    an operator reaches when the endpoint names the wrong host."""
    port = closed_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_web_server_that_is_no_bmc_is_named(web_server: str) -> None:
    with pytest.raises(InvalidConfig, match=r"has no Redfish service.*HTTP 404"):
        collect(web_server, username=USER, password=PASSWORD)
