"""redfish:bmc through the service: the built-in plugin in its own environment, confined,
against sushy-emulator; a seed-style payload, changes tracked, a partial run, a refusal."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from emulators.libvirt_host import Domain, LibvirtHost, domain_uuid
from emulators.sushy import Sushy
from factories import API, all_resources, as_release, collect, tarball, upload

USER, PASSWORD = "redfish-reader", "Bmc-s3cret-pass"


def create_bmc(client: TestClient, url: str, password: str = PASSWORD) -> dict[str, Any]:
    """The provider as seed 000's payload shape creates one."""
    response = client.post(
        f"{API}/providers/",
        json={
            "name": "rack-7 BMCs",
            "infrastructure": "bare_metal",
            "vendor": "redfish",
            "provider_type": "bmc",
            "endpoint": url,
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


def by_name(client: TestClient, provider: int) -> dict[str, dict[str, Any]]:
    found = all_resources(client, provider=provider, include_deleted="true", page_size=1000)
    return {r["name"]: r for r in found}


def kinds(client: TestClient, resource: dict[str, Any]) -> list[str]:
    page = client.get(f"{API}/resources/{resource['id']}/history/").json()
    return [entry["kind"] for entry in page["results"]]


def test_servers_are_collected_and_their_changes_tracked(
    client: TestClient, bmc: Sushy, servers: LibvirtHost, host_file: Path
) -> None:
    provider = create_bmc(client, bmc.url)

    tested = client.post(f"{API}/providers/{provider['id']}/test/").json()
    assert tested == {
        "provider": provider["id"],
        "name": "rack-7 BMCs",
        "ok": True,
        "message": f"Redfish 1.5.0 at {bmc.url}: 4 systems",
    }
    first = collect(client, provider["id"])
    assert first["status"] == "completed", first
    assert first["resources_created"] == 8
    found = by_name(client, provider["id"])
    server = client.get(f"{API}/resources/{found['vm00000']['id']}/").json()
    assert (server["resource_type"], server["state"], server["power_state"]) == (
        "bare_metal",
        "running",
        "On",
    )
    (edge,) = server["relationships"]
    assert (edge["relationship_type"], edge["name"], edge["resource_type"]) == (
        "managed_by",
        "vm00000-Manager",
        "bmc",
    )

    servers.domain("vm00000").runstate = "shutoff"
    servers.domain("vm00003").memory_mib = 16384
    servers.domains.remove(servers.domain("vm00002"))
    servers.domains.append(Domain(name="newcomer", uuid=domain_uuid(42)))
    servers.write(host_file)
    bmc.restart()
    second = collect(client, provider["id"])

    assert second["status"] == "completed", second
    assert (second["resources_created"], second["resources_updated"]) == (2, 2)
    assert second["resources_deleted"] == 2  # the server and its manager
    now = by_name(client, provider["id"])
    assert kinds(client, now["newcomer"]) == kinds(client, now["newcomer-Manager"]) == ["created"]
    history = client.get(f"{API}/resources/{now['vm00000']['id']}/history/").json()["results"]
    assert history[0]["changes"]["state"] == {"from": "running", "to": "stopped"}
    assert history[0]["changes"]["power_state"] == {"from": "On", "to": "Off"}
    history = client.get(f"{API}/resources/{now['vm00003']['id']}/history/").json()["results"]
    assert history[0]["changes"]["memory_mb"] == {"from": 4096, "to": 16384}
    assert now["vm00002"]["is_deleted"] and now["vm00002-Manager"]["is_deleted"]
    assert kinds(client, now["vm00002"]) == ["deleted", "created"]
    assert kinds(client, now["vm00001"]) == ["created"]


def test_a_system_the_bmc_cannot_read_makes_the_run_partial_and_deletes_nothing(
    client: TestClient, bmc: Sushy, servers: LibvirtHost, host_file: Path
) -> None:
    provider = create_bmc(client, bmc.url)
    assert collect(client, provider["id"])["status"] == "completed"
    servers.domain("vm00001").broken_bios_metadata = True
    servers.domains.remove(servers.domain("vm00003"))
    servers.write(host_file)
    bmc.restart()

    run = collect(client, provider["id"])

    assert run["status"] == "partial", run
    assert f"system /redfish/v1/Systems/{domain_uuid(1)}" in run["error_message"]
    assert run["resources_deleted"] == 0
    now = by_name(client, provider["id"])
    assert not [name for name, r in now.items() if r["is_deleted"]]  # vm00003 too: not seen
    assert now["vm00001"]["power_state"] == "Off"  # as last read
    assert kinds(client, now["vm00001"]) == ["created"]


def test_a_wrong_password_fails_the_test_and_the_run(client: TestClient, bmc: Sushy) -> None:
    provider = create_bmc(client, bmc.url, password="Not-The-Pass")

    tested = client.post(f"{API}/providers/{provider['id']}/test/").json()
    run = collect(client, provider["id"])

    assert not tested["ok"]
    assert tested["message"] == (
        f"Unauthenticated: {bmc.url}: the BMC refused user '{USER}' (HTTP 401); "
        "check username and password"
    )
    assert run["status"] == "failed", run
    assert "HTTP 401" in run["error_message"]
    assert "Not-The-Pass" not in run["error_message"]


def test_the_plugin_folder_uploads_and_collects_like_a_third_party_one(
    client: TestClient, bmc: Sushy, tmp_path: Path
) -> None:
    """Packed as seed 000's curl line packs a folder, released as the version after the
    built-in one (which is read-only): the upload builds its own environment from
    requirements.txt."""
    folder = Path(__file__).resolve().parents[3] / "plugins" / "redfish" / "bmc"

    response = upload(client, tarball(as_release(folder, tmp_path / "bmc", "1.0.1")))

    assert response.status_code == 201, response.text
    assert response.json()["key"] == "redfish:bmc"
    versions = client.get(f"{API}/provider-plugins/redfish:bmc/").json()["versions"]
    [version] = [v for v in versions if v["version"] == "1.0.1"]
    assert (version["source"], version["state"], version["is_active"]) == ("local", "ready", True)
    provider = create_bmc(client, bmc.url)
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["resources_created"] == 8
