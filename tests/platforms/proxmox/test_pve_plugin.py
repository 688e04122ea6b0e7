"""proxmox:pve against fakepve, in-process: completeness, mapping, Chatsubo's labels,
and each failure with the error an operator can act on."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.fakepve import FakePve, guests, running_fakepve
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidConfig, ProviderError, Unauthenticated, Unreachable

ProviderFor = Callable[..., BaseProvider]


def collect_all(provider: BaseProvider) -> list[ResourceData]:
    with provider:
        return list(provider.collect())


def by_ref(resources: list[ResourceData]) -> dict[str, ResourceData]:
    return {resource.ems_ref: resource for resource in resources}


def links(resource: ResourceData) -> set[tuple[str, str]]:
    return {
        (r["target_ems_ref"], r["relationship_type"]) for r in map(dict, resource.relationships)
    }


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung endpoint."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_two_thousand_guests_arrive_exactly_once(tmp_path: Path, pve_provider: ProviderFor) -> None:
    nodes = ("pve1", "pve2", "pve3", "pve4")
    estate = guests(2000, nodes)
    estate[7]["template"] = True
    with running_fakepve(tmp_path, estate) as pve:
        started = time.monotonic()
        resources = collect_all(pve_provider(pve))
        seconds = time.monotonic() - started

    refs = [r.ems_ref for r in resources]
    assert len(refs) == len(set(refs))
    guest_refs = {r for r in refs if r.startswith(("qemu/", "lxc/"))}
    expected = {f"{g.get('type', 'qemu')}/{g['vmid']}" for g in estate}
    assert guest_refs == expected
    kinds = Counter(r.resource_type_slug for r in resources)
    assert kinds == {"virtual_machine": 1999, "template": 1, "hypervisor_host": 4,
                     "storage_pool": 8, "cluster": 1}  # fmt: skip
    found = by_ref(resources)
    assert found["qemu/107"].resource_type_slug == "template"
    for entry in estate:
        guest = found[f"{entry.get('type', 'qemu')}/{entry['vmid']}"]
        assert (f"node/{entry['node']}", "runs_on") in links(guest)
        assert (f"storage/{entry['node']}/local-lvm", "attached_to") in links(guest)
    assert all(("cluster/fakecluster", "member_of") in links(found[f"node/{n}"]) for n in nodes)
    assert seconds < 30


def test_a_guest_is_mapped_with_its_config(fakepve: FakePve, pve_provider: ProviderFor) -> None:
    found = by_ref(collect_all(pve_provider(fakepve)))

    vm, ct = found["qemu/101"], found["lxc/104"]
    assert (vm.name, vm.vendor_type, vm.cpu_count, vm.memory_mb, vm.disk_gb) == (
        "vm-101", "QEMU virtual machine", 2, 2048, 32.0,
    )  # fmt: skip
    assert (vm.state, vm.power_state, vm.os_type, vm.os_name) == (
        "running",
        "running",
        "linux",
        "l26",
    )
    assert vm.mac_addresses == ["bc:24:11:01:00:01"]
    assert vm.vendor_identifiers == {"vmid": 101}
    assert vm.provider_tags == {"web": "", "prod": ""}
    assert vm.properties["disks"] == {
        "scsi0": {"storage": "local-lvm", "volume": "vm-101-disk-0", "size": "32G"}
    }
    assert vm.properties["node"] == "pve2"
    assert (ct.vendor_type, ct.ip_addresses, ct.os_type) == ("LXC container", ["10.1.0.4"], "linux")
    node = found["node/pve1"]
    assert (node.resource_type_slug, node.state, node.cpu_count, node.ip_addresses) == (
        "hypervisor_host", "active", 4, ["192.0.2.11"],
    )  # fmt: skip
    cluster = found["cluster/fakecluster"]
    assert (cluster.state, cluster.properties["pve_version"]) == ("active", "9.0.10")
    assert found["storage/pve2/local"].properties["content"] == ["iso", "vztmpl", "backup"]


CHATSUBO_NOTES = """\
Web challenge, reset nightly.
chatsubo.template=Web-Easy
chatsubo.realm=Blue
  chatsubo.address=10.66.0.12
chatsubo.flag.user=FLAG{user}
chatsubo.flag.root=FLAG{root}
chatsubo.creds.username=player
chatsubo.creds.password=hunter2
CHATSUBO.Extra = kept as given
"""


STATE_WORDS = ["running", "stopped", "paused", "suspended", "prelaunch", "io-error"]
TOKEN_ID, TOKEN_SECRET = "inventory@pve!estate", "4f1c2a9e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePve]:
    """fakepve with a guest in each status, a hibernated one, one being cloned, guests
    with Chatsubo labels, and an API token."""
    estate: list[dict[str, Any]] = [
        {"vmid": 100 + i, "name": f"vm-{word}", "status": word, "config": {"memory": 512}}
        for i, word in enumerate(STATE_WORDS)
    ]
    estate += [
        {"vmid": 200, "name": "hibernated", "status": "running", "config": {}},
        {"vmid": 201, "name": "cloning", "status": "stopped", "config": {"lock": "clone"}},
        {"vmid": 300, "name": "web-easy-1", "status": "running",
         "config": {"description": CHATSUBO_NOTES, "tags": "ctf"}},
        {"vmid": 301, "name": "web-easy", "template": True,
         "config": {"description": "chatsubo.template=web-easy"}},
        {"vmid": 302, "name": "plain", "config": {"description": "no labels here"}},
    ]  # fmt: skip
    with running_fakepve(
        tmp_path_factory.mktemp("varied"), estate, api_tokens={TOKEN_ID: TOKEN_SECRET}
    ) as pve:
        # Suspend to disk through the API, as an operator would: stopped, locked "suspended".
        pve.client().nodes("pve1").qemu(200).status.suspend.post(todisk=1)
        yield pve


def test_states_are_mapped_and_the_platform_word_is_kept(
    varied: FakePve, pve_provider: ProviderFor
) -> None:
    found = by_ref(collect_all(pve_provider(varied)))

    guests_by_word = {word: found[f"qemu/{100 + i}"] for i, word in enumerate(STATE_WORDS)}
    states = {word: (g.state, g.power_state) for word, g in guests_by_word.items()}
    assert states == {
        "running": ("running", "running"), "stopped": ("stopped", "stopped"),
        "paused": ("suspended", "paused"), "suspended": ("suspended", "suspended"),
        "prelaunch": ("provisioning", "prelaunch"), "io-error": ("unknown", "io-error"),
    }  # fmt: skip
    hibernated = found["qemu/200"]
    assert (hibernated.state, hibernated.power_state, hibernated.properties["lock"]) == (
        "suspended", "stopped", "suspended",
    )  # fmt: skip
    assert (found["qemu/201"].state, found["qemu/201"].power_state) == ("provisioning", "stopped")


def test_chatsubo_labels_in_the_notes_become_properties_and_tags(
    varied: FakePve, pve_provider: ProviderFor
) -> None:
    found = by_ref(collect_all(pve_provider(varied)))

    instance = found["qemu/300"]
    assert instance.properties["chatsubo"] == {
        "template": "Web-Easy",
        "realm": "Blue",
        "address": "10.66.0.12",
        "flags": {"user": "FLAG{user}", "root": "FLAG{root}"},
        "creds": {"username": "player", "password": "***"},
    }
    assert instance.provider_tags == {
        "ctf": "",
        "chatsubo.template": "Web-Easy",
        "chatsubo.realm": "Blue",
        "chatsubo.address": "10.66.0.12",
        "chatsubo.flag.user": "FLAG{user}",
        "chatsubo.flag.root": "FLAG{root}",
        "chatsubo.creds.username": "player",
        "chatsubo.creds.password": "***",
        "chatsubo.extra": "kept as given",
    }
    assert instance.ip_addresses == ["10.66.0.12"]
    assert instance.description is not None and "hunter2" not in instance.description
    assert "chatsubo.creds.password=***" in instance.description
    template = found["qemu/301"]
    assert template.resource_type_slug == "template"
    assert template.properties["chatsubo"] == {"template": "web-easy"}
    assert "chatsubo" not in found["qemu/302"].properties


def test_an_api_token_logs_in_and_a_wrong_one_is_unauthenticated(
    varied: FakePve, pve_provider: ProviderFor
) -> None:
    user, name = TOKEN_ID.split("!")
    good = pve_provider(
        varied, username=user, password=None, token_name=name, token_value=TOKEN_SECRET
    )
    assert len([r for r in collect_all(good) if r.ems_ref.startswith("qemu/")]) == 11
    wrong = TOKEN_SECRET[:-2] + "ff"
    bad = pve_provider(varied, username=user, password=None, token_name=name, token_value=wrong)

    with pytest.raises(Unauthenticated, match=r"API token inventory@pve!estate") as refused:
        collect_all(bad)

    assert wrong not in str(refused.value)


def test_a_wrong_password_is_unauthenticated(fakepve: FakePve, pve_provider: ProviderFor) -> None:
    provider = pve_provider(fakepve, password="not-the-password")

    with pytest.raises(Unauthenticated, match=r"refused the login of root@pam") as refused:
        collect_all(provider)

    assert "not-the-password" not in str(refused.value)
    ok, message = pve_provider(fakepve, password="not-the-password").validate_connection()
    assert (ok, message.split(":")[0]) == (False, "unauthenticated")


def test_a_closed_port_is_unreachable_at_once(fakepve: FakePve, pve_provider: ProviderFor) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens once the socket is closed
    provider = pve_provider(fakepve, port=closed)
    started = time.monotonic()

    with pytest.raises(Unreachable, match=r"Connection refused"):
        collect_all(provider)

    assert time.monotonic() - started < 2


def test_a_silent_endpoint_is_unreachable_within_the_timeout(
    fakepve: FakePve, pve_provider: ProviderFor, silent_listener: int
) -> None:
    provider = pve_provider(fakepve, port=silent_listener, timeout=1)
    started = time.monotonic()

    with pytest.raises(Unreachable, match=r"within 1 s"):
        collect_all(provider)

    assert time.monotonic() - started < 5


def test_the_certificate_is_verified_with_the_environments_ca_bundle(
    fakepve: FakePve, pve_provider: ProviderFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with pytest.raises(Unreachable, match=r"is not trusted .*REQUESTS_CA_BUNDLE"):
        collect_all(pve_provider(fakepve, verify_ssl=True))

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fakepve.cafile))
    ok, message = pve_provider(fakepve, verify_ssl=True).validate_connection()

    assert ok, message


def test_an_offline_node_is_reported_incomplete_and_its_guests_left_out(
    tmp_path: Path, pve_provider: ProviderFor
) -> None:
    estate = guests(12, ("pve1", "pve2"))
    with running_fakepve(tmp_path, estate, offline_nodes=["pve2"]) as pve:
        provider = pve_provider(pve)
        found = by_ref(collect_all(provider))

    assert provider.incomplete_parts == [
        {"part": "node pve2", "error": "the node is offline; its guests were not read"}
    ]
    on_pve1 = {f"{g.get('type', 'qemu')}/{g['vmid']}" for g in estate if g["node"] == "pve1"}
    assert {ref for ref in found if ref.startswith(("qemu/", "lxc/"))} == on_pve1
    assert (found["node/pve2"].state, found["node/pve2"].power_state) == ("unknown", "offline")


def test_a_busy_api_is_asked_again_and_a_failing_node_is_reported(
    tmp_path: Path, pve_provider: ProviderFor
) -> None:
    estate = guests(12, ("pve1", "pve2", "pve3"))
    gone = "Configuration file 'nodes/pve1/qemu-server/103.conf' does not exist"
    failures = [
        ("GET", "/cluster/resources", 503, "Service Unavailable", 2),  # then it answers
        ("GET", "/nodes/pve1/qemu/100/config", 502, "Bad Gateway", 1),
        ("GET", "/nodes/pve1/qemu/103/config", 500, gone, 9),  # deleted after the listing
        ("GET", "/nodes/pve2/qemu/101/config", 503, "Service Unavailable", 9),  # never again
    ]
    with running_fakepve(tmp_path, estate, failures=failures) as pve:
        provider = pve_provider(pve)
        found = by_ref(collect_all(provider))

    [incomplete] = provider.incomplete_parts
    assert incomplete["part"] == "node pve2"
    assert "reading qemu/101" in incomplete["error"] and "503" in incomplete["error"]
    read = {ref for ref in found if ref.startswith(("qemu/", "lxc/"))}
    on_pve1_and_pve3 = {
        f"{g.get('type', 'qemu')}/{g['vmid']}" for g in estate if g["node"] != "pve2"
    }
    assert read >= on_pve1_and_pve3 - {"qemu/103"}
    assert "qemu/100" in read and "qemu/103" not in read and "qemu/101" not in read


def test_a_targeted_collection_of_vms_skips_the_reads_they_do_not_need(
    tmp_path: Path, pve_provider: ProviderFor
) -> None:
    template = {"vmid": 300, "name": "golden", "node": "pve1", "template": True}
    failures = [  # each answers once, to whoever asks first: a targeted run must not
        ("GET", "/cluster/status", 500, "cluster status was read", 1),
        ("GET", "/nodes/pve1/qemu/300/config", 500, "the template's config was read", 1),
    ]
    with running_fakepve(tmp_path, [*guests(6), template], failures=failures) as pve:
        targeted = pve_provider(pve)
        targeted.target_resource_types = frozenset({"virtual_machine"})
        vms = collect_all(targeted)
        with pytest.raises(ProviderError, match="cluster status was read"):
            collect_all(pve_provider(pve))
        second = pve_provider(pve)
        collect_all(second)
        full = collect_all(pve_provider(pve))

    assert targeted.incomplete_parts == []
    assert "the template's config was read" in second.incomplete_parts[0]["error"]
    assert {r.resource_type_slug for r in vms} == {"virtual_machine"}
    assert len(vms) == 6 and "qemu/300" in by_ref(full)
    full_vms = [r for r in full if r.resource_type_slug == "virtual_machine"]
    assert [r.to_dict() for r in vms] == [r.to_dict() for r in full_vms]


def test_nodes_limit_what_is_collected(fakepve: FakePve, pve_provider: ProviderFor) -> None:
    found = by_ref(collect_all(pve_provider(fakepve, nodes=["pve2"])))

    assert {r.properties["node"] for r in found.values() if "node" in r.properties} == {"pve2"}
    assert "node/pve1" not in found and "cluster/fakecluster" in found
    with pytest.raises(
        InvalidConfig, match=r"nodes: pve9 not in the cluster \(its nodes: pve1, pve2\)"
    ):
        collect_all(pve_provider(fakepve, nodes=["pve2", "pve9"]))
    ok, message = pve_provider(fakepve, nodes=["pve9"]).validate_connection()
    assert not ok and "pve9 not in the cluster" in message


@pytest.mark.parametrize(
    ("overrides", "endpoint", "error"),
    [
        ({"username": "root"}, None, r"username: 'root' names no realm; write it as root@pam"),
        ({"password": None}, None, r"give a password, or token_name and token_value"),
        ({"token_name": "estate"}, None, r"token_value: required with the other token field"),
        ({"nodes": "pve1"}, None, r"nodes: must be a list of node names"),
        ({"timeout": 0}, None, r"timeout: must be a positive number of seconds"),
        ({}, "", r"endpoint: required"),
        ({}, "ftp://pve1", r"endpoint: 'ftp://pve1' is not a host name"),
    ],
)
def test_bad_parameters_are_refused_with_the_fix(
    pve_provider: ProviderFor, overrides: dict[str, Any], endpoint: str | None, error: str
) -> None:
    nowhere = FakePve(host="127.0.0.1", port=9, pid=0, cafile=Path("/nonexistent"))
    provider = pve_provider(nowhere, **overrides)
    if endpoint is not None:
        provider.credential.hostname = endpoint

    with pytest.raises(InvalidConfig, match=error):
        provider.connect()


def test_the_endpoint_may_carry_the_scheme_and_port(
    fakepve: FakePve, pve_provider: ProviderFor
) -> None:
    provider = pve_provider(fakepve, port=None)
    provider.credential.hostname = f"https://{fakepve.host}:{fakepve.port}"

    ok, message = provider.validate_connection()

    assert ok, message
    assert (
        message
        == f"logged in to Proxmox VE 9.0.10 at https://{fakepve.host}:{fakepve.port} as root@pam"
    )
