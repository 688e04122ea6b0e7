"""A vCenter plugin someone else wrote for seed 000's service, run unmodified against
vcsim: it hands ``ResourceData`` what pyVmomi returns (its own ``int`` and ``str``
subclasses, enum strings, datetimes) and the seed service's words (``maintenance``,
``manages``). Uploaded as any third-party plugin, it collects completely."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyVmomi import vim

from emulators.vcsim import Size, Vcsim, by_name, vcsim, wait
from factories import API, all_resources, collect, create_provider, fixture_plugin, tarball, upload

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def one_datacenter() -> Iterator[Vcsim]:
    """A cluster of 2 hosts and a standalone host, one of them in maintenance mode."""
    try:
        with vcsim(Size(hosts_per_cluster=2)) as simulator:
            with simulator.session() as instance:
                wait(by_name(instance, vim.HostSystem)["DC0_C0_H0"].EnterMaintenanceMode_Task(0))
            yield simulator
    except RuntimeError as exc:  # never a skip: CI must have vcsim (make platforms)
        pytest.fail(f"vcsim cannot start: {exc}")


def test_a_seed_style_vcenter_plugin_collects_pyvmomi_values_and_foreign_words(
    client: TestClient, one_datacenter: Vcsim, tmp_path: Path
) -> None:
    folder = fixture_plugin("seed_vcenter", tmp_path / "seed_vcenter")
    uploaded = upload(client, tarball(folder))
    assert uploaded.status_code == 201, uploaded.text
    provider = create_provider(
        client,
        name="Their vCenter",
        vendor="thirdparty",
        provider_type="vcenter",
        endpoint="127.0.0.1",
        connection_config={
            "username": "administrator@vsphere.local",
            "password": "secret",
            "port": one_datacenter.port,
            "verify_ssl": False,
        },
    )

    run = collect(client, provider["id"], timeout=120)

    assert run["status"] == "completed", run
    assert run["errors"] == 0
    found = {r["name"]: r for r in all_resources(client, provider=provider["id"])}
    vms = [r for r in found.values() if r["resource_type"] == "virtual_machine"]
    assert vms and all(type(r["cpu_count"]) is int and r["cpu_count"] > 0 for r in vms)
    assert all(r["state"] == "running" and r["power_state"] == "poweredOn" for r in vms)
    assert all(isinstance(r["boot_time"], str) for r in vms if r["boot_time"] is not None)
    host = found["DC0_C0_H0"]
    assert host["state"] == "inactive", "maintenance is the nearest vocabulary state"
    assert host["properties"]["source_state"] == "maintenance"
    detail = client.get(f"{API}/resources/{host['id']}/").json()
    kinds = {edge["relationship_type"] for edge in detail["relationships"]}
    assert "manages" in kinds, detail["relationships"]
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert log.count("'maintenance'") == 1, log
    assert log.count("'manages'") == 1, log
