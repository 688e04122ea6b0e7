"""The built-in simulated datacenter plugin, loaded from its folder as the service loads it."""

import json
import logging
import time
import tracemalloc
from collections import Counter
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from inventory_providers.base import ResourceData
from inventory_providers.errors import InvalidConfig, Unauthenticated, Unreachable
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider, run_provider

FOLDER = Path(__file__).resolve().parents[2] / "plugins" / "simulated" / "datacenter"
Simulated = load_class(FOLDER, "provider.SimulatedDatacenterProvider")


def collect(**config: Any) -> list[dict[str, Any]]:
    return [resource.to_dict() for resource in run_provider(Simulated, connection_config=config)]


def by_ref(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {resource["ems_ref"]: resource for resource in resources}


def kinds(resources: list[dict[str, Any]]) -> Counter[str]:
    return Counter(resource["resource_type_slug"] for resource in resources)


# -- identity ------------------------------------------------------------------------


def test_the_class_matches_its_manifest() -> None:
    manifest = yaml.safe_load((FOLDER / "manifest.yml").read_text())

    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (
        "simulated",
        "datacenter",
        "1.0.0",
    )
    assert Simulated.provider_key() == f"{manifest['vendor']}:{manifest['provider_type']}"
    assert Simulated.supported_resource_types == manifest["supported_resource_types"]
    secrets = [p["name"] for p in manifest["connection_parameters"] if p.get("secret")]
    assert secrets == ["password"]
    assert all(not p.get("required") for p in manifest["connection_parameters"])


def test_the_folder_has_the_seed_layout() -> None:
    for name in (
        "manifest.yml",
        "provider.py",
        "__init__.py",
        "pyproject.toml",
        "requirements.txt",
    ):
        assert (FOLDER / name).is_file(), name
    assert '[project.entry-points."inventory_providers"]' in (FOLDER / "pyproject.toml").read_text()


# -- sizes ---------------------------------------------------------------------------


def test_the_default_estate() -> None:
    assert kinds(collect()) == {
        "container_orchestration_platform": 2,
        "hypervisor_host": 8,
        "block_storage": 4,
        "network": 3,
        "virtual_machine": 80,
    }


def test_sizes_come_from_the_connection_config() -> None:
    resources = collect(clusters=3, hosts_per_cluster=2, vms_per_host=5, datastores=1, networks=2)

    assert kinds(resources) == {
        "container_orchestration_platform": 3,
        "hypervisor_host": 6,
        "block_storage": 1,
        "network": 2,
        "virtual_machine": 30,
    }


def test_a_targeted_collection_yields_only_the_types_asked_for() -> None:
    full = by_ref(collect())
    targeted = run_provider(
        Simulated, target_resource_types=["virtual_machine", "network"], connection_config={}
    )

    assert kinds([r.to_dict() for r in targeted]) == {"network": 3, "virtual_machine": 80}
    assert all(full[r.ems_ref] == r.to_dict() for r in targeted)  # the same resources


def test_numeric_strings_are_accepted() -> None:
    assert (
        kinds(collect(clusters="1", hosts_per_cluster=" 2 ", vms_per_host=3.0))["virtual_machine"]
        == 6
    )


@pytest.mark.parametrize("total", [0, 1, 2, 4, 5, 6, 97, 1000, 12_345])
def test_resources_gives_exactly_that_many(total: int) -> None:
    resources = collect(resources=total, clusters=9, vms_per_host=99)

    assert len(resources) == total
    assert len(by_ref(resources)) == total
    assert_relationships_resolve(resources)


def test_resources_are_mostly_vms() -> None:
    counted = kinds(collect(resources=20_000))

    assert counted["virtual_machine"] > 0.95 * 20_000
    generated = [t for t in Simulated.supported_resource_types if t != "image"]
    assert all(counted[kind] > 0 for kind in generated)
    assert counted["image"] == 0  # images only once image_prepare made one


def test_ems_refs_follow_the_vcenter_shape() -> None:
    refs = set(by_ref(collect()))

    assert {"cluster-01", "host-0007", "datastore-02", "network-01", "vm-000080"} <= refs


# -- content -------------------------------------------------------------------------


def assert_relationships_resolve(resources: list[dict[str, Any]]) -> None:
    known = by_ref(resources)
    for resource in resources:
        for edge in resource.get("relationships", []):
            assert edge["target_ems_ref"] in known, (resource["ems_ref"], edge)


def test_relationships_point_to_resources_that_exist() -> None:
    resources = collect(clusters=3, hosts_per_cluster=3, vms_per_host=7, datastores=5, networks=4)
    known = by_ref(resources)

    assert_relationships_resolve(resources)
    for resource in resources:
        edges = {
            (e["relationship_type"], known[e["target_ems_ref"]]["resource_type_slug"])
            for e in resource.get("relationships", [])
        }
        if resource["resource_type_slug"] == "virtual_machine":
            assert edges == {
                ("runs_on", "hypervisor_host"),
                ("attached_to", "block_storage"),
                ("connected_to", "network"),
            }
        elif resource["resource_type_slug"] == "hypervisor_host":
            assert edges == {("member_of", "container_orchestration_platform")}


def test_vms_carry_the_normalised_fields() -> None:
    vms = [r for r in collect(resources=5_000) if r["resource_type_slug"] == "virtual_machine"]
    power = {"running": "poweredOn", "stopped": "poweredOff", "suspended": "suspended"}

    assert {vm["state"] for vm in vms} == set(power)
    for vm in vms:
        assert vm["power_state"] == power[vm["state"]]
        assert vm["region"] == "dc-1"
        assert vm["cpu_count"] > 0 and vm["memory_mb"] > 0 and vm["disk_gb"] > 0
        assert vm["os_type"] in {"linux", "windows", "other"} and vm["os_name"]
        assert {"guest_id", "tools_status", "annotation"} <= set(vm["properties"])
        assert vm["provider_tags"]["env"]
    assert len({vm["ip_addresses"][0] for vm in vms}) == len(vms)
    assert len({vm["mac_addresses"][0] for vm in vms}) == len(vms)


def test_every_resource_is_valid_on_the_wire() -> None:
    resources = collect(resources=2_000)

    wire = json.loads(json.dumps(resources))

    assert [ResourceData.from_dict(r).to_dict() for r in wire] == resources
    assert set(kinds(resources)) <= set(Simulated.supported_resource_types)


# -- determinism and churn -----------------------------------------------------------


def test_the_same_config_gives_the_same_estate() -> None:
    config = {"resources": 3_000, "seed": 7, "churn_percent": 10, "generation": 5}

    assert collect(**config) == collect(**config)


def test_another_seed_gives_another_estate() -> None:
    assert collect(seed=1) != collect(seed=2)


def changed(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> set[str]:
    old, new = by_ref(before), by_ref(after)
    assert old.keys() == new.keys()
    return {ref for ref in old if old[ref] != new[ref]}


SIZES = {"clusters": 5, "hosts_per_cluster": 4, "vms_per_host": 50}  # 1,000 VMs


def test_one_percent_churn_changes_one_percent_of_vms_per_generation() -> None:
    first = collect(**SIZES, churn_percent=1, generation=1)
    second = collect(**SIZES, churn_percent=1, generation=2)

    moved = changed(first, second)

    assert len(moved) == 10
    assert all(ref.startswith("vm-") for ref in moved)
    old, new = by_ref(first), by_ref(second)
    for ref in moved:
        assert old[ref]["memory_mb"] != new[ref]["memory_mb"]
        assert old[ref]["properties"] != new[ref]["properties"]


@pytest.mark.parametrize(("percent", "generation"), [(5, 0), (5, 41), (37, 3), (100, 9)])
def test_churn_changes_exactly_its_share(percent: int, generation: int) -> None:
    before = collect(**SIZES, churn_percent=percent, generation=generation)
    after = collect(**SIZES, churn_percent=percent, generation=generation + 1)

    assert len(changed(before, after)) == percent * 10


def test_different_vms_churn_in_consecutive_generations() -> None:
    runs = [collect(**SIZES, churn_percent=2, generation=g) for g in range(4)]

    moves = [changed(a, b) for a, b in pairwise(runs)]

    assert all(len(m) == 20 for m in moves)
    assert not moves[0] & moves[1]


def test_without_churn_the_generation_changes_nothing() -> None:
    assert collect(generation=1) == collect(generation=2)


def test_the_generation_defaults_to_the_clock() -> None:
    interval = 10**9  # one generation per ~31 years: the test never straddles two
    now = int(time.time() // interval)

    assert collect(churn_percent=50, churn_interval_s=interval) == collect(
        churn_percent=50, generation=now
    )


# -- failure modes -------------------------------------------------------------------


def test_a_wrong_password_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated) as excinfo:
        run_provider(Simulated, connection_config={"username": "ops", "password": "hunter2"})

    assert "hunter2" not in str(excinfo.value)


@pytest.mark.parametrize("password", [None, "", "simulated"])
def test_no_password_or_the_right_one_connects(password: str | None) -> None:
    config = {"password": password, "resources": 3}

    assert len(run_provider(Simulated, connection_config=config)) == 3
    assert make_provider(Simulated, connection_config=config).validate_connection()[0]


def test_validate_connection_reports_a_wrong_password() -> None:
    ok, message = make_provider(
        Simulated, connection_config={"password": "x"}
    ).validate_connection()

    assert not ok
    assert "Unauthenticated" in message


def test_fail_after_raises_once_that_many_were_yielded() -> None:
    provider = make_provider(Simulated, connection_config={"resources": 500, "fail_after": 123})
    seen: list[ResourceData] = []

    with provider, pytest.raises(Unreachable, match="123"):
        seen.extend(provider.collect())

    assert len(seen) == 123


def test_fail_after_beyond_the_estate_never_fires() -> None:
    assert len(collect(resources=50, fail_after=51)) == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("clusters", "two"),
        ("clusters", 0),
        ("hosts_per_cluster", True),
        ("vms_per_host", -1),
        ("vms_per_host", 2.5),
        ("datastores", [4]),
        ("churn_percent", 101),
        ("generation", -1),
        ("churn_interval_s", 0),
        ("resources", "lots"),
        ("fail_after", {}),
        ("seed", "x"),
    ],
)
def test_a_bad_parameter_is_invalid_config_naming_it(name: str, value: Any) -> None:
    with pytest.raises(InvalidConfig, match=name) as excinfo:
        run_provider(Simulated, connection_config={name: value})

    assert excinfo.value.kind == "invalid_config"


def test_sizes_are_checked_even_when_resources_overrides_them() -> None:
    with pytest.raises(InvalidConfig, match="datastores"):
        run_provider(Simulated, connection_config={"resources": 10, "datastores": "x"})


def test_an_unknown_parameter_is_logged_not_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        resources = collect(vm_per_host=3)

    assert len(resources) == 97
    assert "vm_per_host" in caplog.text


# -- streaming -----------------------------------------------------------------------


def test_collect_logs_at_start_and_end(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        collect(resources=10)

    messages = [r.getMessage() for r in caplog.records if r.name.endswith("simulated:datacenter")]
    assert messages[0].startswith("collecting 10 resources")
    assert messages[-1].startswith("collected 10 resources")


def test_a_million_vms_stream_lazily() -> None:
    config = {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 1_000_000}
    provider = make_provider(Simulated, connection_config=config)
    provider.connect()
    tracemalloc.start()
    try:
        seen = sum(1 for _ in islice(provider.collect(), 10_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Building the million first would take hundreds of megabytes (and seconds: time is
    # the benchmark's to measure, not a test's).
    assert seen == 10_000
    assert peak < 2 * 1024 * 1024
