"""From a plugin's wire record to a row: validation naming the field, content hash, diff."""

from __future__ import annotations

from typing import Any

import pytest

from estate.inventory.records import DATA_COLUMNS, diff, to_record
from inventory_providers.base import ResourceData, ResourceValidationError


def wire(**fields: Any) -> dict[str, Any]:
    return {"ems_ref": "vm-1", "resource_type_slug": "virtual_machine", **fields}


def problem(data: Any, allowed_types: frozenset[str] | None = None) -> ResourceValidationError:
    with pytest.raises(ResourceValidationError) as caught:
        to_record(data, allowed_types)
    return caught.value


def value(record_values: tuple[Any, ...], column: str) -> Any:
    return record_values[DATA_COLUMNS.index(column)]


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ems_ref": ""}, "ems_ref"),
        ({"resource_type_slug": ""}, "resource_type_slug"),
        ({"state": 5}, "state"),
        ({"cpu_count": -1}, "cpu_count"),
        ({"cpu_count": "four"}, "cpu_count"),
        ({"memory_mb": 1.5}, "memory_mb"),
        ({"disk_gb": -3}, "disk_gb"),
        ({"name": 12}, "name"),
        ({"properties": [1, 2]}, "properties"),
        ({"provider_tags": "env=prod"}, "provider_tags"),
        ({"ip_addresses": ["10.0.0.1", 7]}, "ip_addresses"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(fields: dict[str, Any], field: str) -> None:
    error = problem(wire(**fields))

    assert error.field.split("[")[0] == field  # a list item may be named by its index
    assert str(error).startswith(f"{error.field}: ")


def test_a_bad_relationship_names_its_index_and_key() -> None:
    error = problem(wire(relationships=[{"target_ems_ref": "h", "relationship_type": 7}]))

    assert error.field == "relationships[0].relationship_type"
    assert "str" in str(error)


@pytest.mark.parametrize("missing", ["ems_ref", "resource_type_slug"])
def test_a_missing_required_field_is_named(missing: str) -> None:
    data = wire()
    del data[missing]

    assert missing in str(problem(data))


def test_something_that_is_not_an_object_is_refused() -> None:
    assert problem(["vm-1"]).field == "resource"


def test_an_unknown_resource_type_is_refused() -> None:
    error = problem(wire(resource_type_slug="starship"))

    assert error.field == "resource_type_slug"
    assert "unknown resource type 'starship'" in str(error)


def test_allowed_types_are_enforced() -> None:
    allowed = frozenset({"hypervisor_host"})

    error = problem(wire(), allowed)

    assert error.field == "resource_type_slug"
    assert "'virtual_machine'" in str(error)
    assert "supported_resource_types" in str(error)
    assert to_record(wire(resource_type_slug="hypervisor_host"), allowed).ems_ref == "vm-1"


def test_a_valid_record_keeps_its_values_and_defaults_the_state() -> None:
    record = to_record(wire(name="web-1", cpu_count=4, properties={"owner": "ops"}))

    assert record.ems_ref == "vm-1"
    assert value(record.values, "resource_type") == "virtual_machine"
    assert value(record.values, "name") == "web-1"
    assert value(record.values, "cpu_count") == 4
    assert value(record.values, "properties") == {"owner": "ops"}
    assert value(record.values, "state") == "unknown"
    assert value(record.values, "region") is None


def test_an_integer_ems_ref_becomes_a_string() -> None:
    assert to_record(wire(ems_ref=42)).ems_ref == "42"


def test_every_resource_data_field_is_accepted() -> None:
    resource = ResourceData(
        ems_ref="vm-9",
        resource_type_slug="virtual_machine",
        name="n",
        description="d",
        canonical_id="c",
        vendor_identifiers={"moref": "vm-9"},
        vendor_type="VirtualMachine",
        state="running",
        power_state="poweredOn",
        boot_time="2024-01-01T00:00:00Z",
        region="eu",
        availability_zone="eu-1a",
        cloud_tenant="t",
        flavor="m5.large",
        cpu_count=2,
        memory_mb=4096,
        disk_gb=40.5,
        ip_addresses=["10.0.0.9"],
        fqdn="vm9.local",
        mac_addresses=["00:11:22:33:44:55"],
        os_type="linux",
        os_name="Debian 12",
        properties={"a": 1},
        provider_tags={"env": "prod"},
        ansible_host="10.0.0.9",
        ansible_connection="ssh",
        inventory_group="web",
        ems_created_on="2023-12-31T00:00:00Z",
        relationships=[{"target_ems_ref": "host-1", "relationship_type": "runs_on"}],
        metrics={"cpu": 0.5},
    )

    record = to_record(resource.to_dict())

    assert value(record.values, "memory_mb") == 4096
    assert value(record.values, "disk_gb") == 40.5
    assert value(record.values, "power_state") == "poweredOn"


# -- content hash ----------------------------------------------------------------------


def test_the_hash_is_stable_for_the_same_content() -> None:
    first = to_record(wire(name="a", properties={"x": 1, "y": [1, 2]}))
    again = to_record(wire(name="a", properties={"x": 1, "y": [1, 2]}))

    assert first.content_hash == again.content_hash


@pytest.mark.parametrize(
    "change",
    [
        {"name": "b"},
        {"state": "stopped"},
        {"properties": {"x": 2}},
        {"properties": {"x": 1, "z": None}},
        {"ip_addresses": ["10.0.0.2"]},
        {"relationships": [{"target_ems_ref": "h", "relationship_type": "runs_on"}]},
    ],
)
def test_the_hash_changes_with_the_content(change: dict[str, Any]) -> None:
    base = wire(name="a", state="running", properties={"x": 1})

    assert to_record(base).content_hash != to_record({**base, **change}).content_hash


# -- diff ------------------------------------------------------------------------------


def test_diff_names_each_changed_field_with_from_and_to() -> None:
    before = to_record(wire(name="a", state="running", cpu_count=2, region="eu"))
    after = to_record(wire(name="b", state="stopped", cpu_count=2))

    assert diff(before.values, after.values) == {
        "name": {"from": "a", "to": "b"},
        "state": {"from": "running", "to": "stopped"},
        "region": {"from": "eu", "to": None},
    }


def test_diff_reports_dict_columns_key_by_key() -> None:
    before = to_record(wire(properties={"owner": "ops", "tier": 1, "gone": True}))
    after = to_record(wire(properties={"owner": "dev", "tier": 1, "new": "x"}))

    assert diff(before.values, after.values) == {
        "properties.gone": {"from": True, "to": None},
        "properties.new": {"from": None, "to": "x"},
        "properties.owner": {"from": "ops", "to": "dev"},
    }


def test_diff_of_tags_added_from_nothing() -> None:
    before = to_record(wire())
    after = to_record(wire(provider_tags={"env": "prod"}))

    assert diff(before.values, after.values) == {
        "provider_tags.env": {"from": None, "to": "prod"},
    }


def test_diff_of_equal_values_is_empty() -> None:
    record = to_record(wire(name="a", properties={"x": [1, 2]}, ip_addresses=["10.0.0.1"]))

    assert diff(record.values, record.values) == {}
