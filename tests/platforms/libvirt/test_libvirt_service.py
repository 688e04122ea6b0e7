"""libvirt:kvm through the service: the built-in plugin in its own environment, confined,
created with a seed-style payload, collected, tested, and tracked across a change."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from emulators.libvirt_host import Domain, LibvirtHost, domain_uuid, standard_host
from factories import API, all_resources, collect

USER, PASSWORD = "estate", "Kvm-s3cret-pass"


def guarded(domains: int) -> LibvirtHost:
    host = standard_host(domains)
    host.auth = (USER, PASSWORD)
    return host


def create_kvm(client: TestClient, uri: str, password: str = PASSWORD) -> dict[str, Any]:
    """The provider as seed 000's payload shape creates one (port and verify_ssl too)."""
    response = client.post(
        f"{API}/providers/",
        json={
            "name": "kvm1",
            "infrastructure": "private_cloud",
            "vendor": "libvirt",
            "provider_type": "kvm",
            "endpoint": uri,
            "organization": 1,
            "connection_config": {
                "username": USER,
                "password": password,
                "port": 443,
                "verify_ssl": False,
                "timeout": 10,
            },
        },
    )
    assert response.status_code == 201, response.text
    provider: dict[str, Any] = response.json()
    return provider


def by_name(client: TestClient, provider: int, **params: Any) -> dict[str, dict[str, Any]]:
    found = all_resources(client, provider=provider, page_size=1000, **params)
    return {r["name"]: r for r in found}


def history(client: TestClient, resource: dict[str, Any]) -> list[dict[str, Any]]:
    page = client.get(f"{API}/resources/{resource['id']}/history/").json()
    results: list[dict[str, Any]] = page["results"]
    return results


def test_a_host_is_collected_and_its_changes_tracked(service: TestClient, host_dir: Path) -> None:
    host = guarded(4)
    uri = host.write(host_dir / "kvm1.xml")
    provider = create_kvm(service, uri)

    tested = service.post(f"{API}/providers/{provider['id']}/test/").json()
    assert tested["ok"], tested
    assert "(TEST)" in tested["message"]
    first = collect(service, provider["id"])
    assert first["status"] == "completed", first
    assert first["resources_created"] == 1 + 2 + 2 + 6 + 4
    found = by_name(service, provider["id"])
    vm = service.get(f"{API}/resources/{found['vm00000']['id']}/").json()
    assert (vm["resource_type"], vm["state"], vm["memory_mb"]) == (
        "virtual_machine",
        "running",
        1024,
    )
    assert {(e["relationship_type"], e["resource_type"]) for e in vm["relationships"]} == {
        ("runs_on", "hypervisor_host"),
        ("attached_to", "block_storage"),
        ("connected_to", "network"),
    }
    assert all(e["resource_id"] for e in vm["relationships"])  # each edge found its target

    host.domain("vm00001").memory_mib = 8192
    host.domain("vm00001").runstate = "shutoff"
    host.domains.remove(host.domain("vm00002"))
    host.domains.append(Domain(name="newcomer", uuid=domain_uuid(900), vcpus=8))
    host.write(host_dir / "kvm1.xml")
    second = collect(service, provider["id"])

    assert second["status"] == "completed", second
    assert (second["resources_created"], second["resources_updated"]) == (1, 1)
    assert second["resources_deleted"] == 1
    now = by_name(service, provider["id"], include_deleted="true")
    assert [h["kind"] for h in history(service, now["newcomer"])] == ["created"]
    modified, created = history(service, now["vm00001"])
    assert (modified["kind"], modified["run"], created["kind"]) == (
        "modified",
        second["id"],
        "created",
    )
    assert modified["changes"]["memory_mb"] == {"from": 2048, "to": 8192}
    assert modified["changes"]["state"] == {"from": "running", "to": "stopped"}
    assert modified["changes"]["power_state"] == {"from": "running", "to": "shutoff"}
    assert now["vm00002"]["is_deleted"]
    assert [h["kind"] for h in history(service, now["vm00002"])] == ["deleted", "created"]
    assert not now["vm00002.qcow2"]["is_deleted"]  # the volume outlives its domain
    assert [h["kind"] for h in history(service, now["vm00000"])] == ["created"]


def test_a_wrong_password_fails_the_test_and_the_run_and_deletes_nothing(
    service: TestClient, host_dir: Path
) -> None:
    host = guarded(2)
    uri = host.write(host_dir / "kvm1.xml")
    provider = create_kvm(service, uri)
    assert collect(service, provider["id"])["status"] == "completed"
    response = service.patch(
        f"{API}/providers/{provider['id']}/",
        json={"connection_config": {"username": USER, "password": "Not-The-Pass"}},
    )
    assert response.status_code == 200, response.text

    tested = service.post(f"{API}/providers/{provider['id']}/test/").json()
    run = collect(service, provider["id"])

    assert not tested["ok"]
    assert tested["message"].startswith("Unauthenticated: ")
    assert "check username and password" in tested["message"]
    assert run["status"] == "failed", run
    assert "check username and password" in run["error_message"]
    assert "Not-The-Pass" not in run["error_message"] + tested["message"]
    assert run["resources_deleted"] == 0
    assert not [r for r in all_resources(service, provider=provider["id"]) if r["is_deleted"]]
