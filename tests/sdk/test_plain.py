"""plain.py: the standard library's value types as plain JSON values, and the encoder's
default. (Client libraries' own objects are in test_client_values.py.)"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from inventory_providers.base import ResourceData, ResourceValidationError
from inventory_providers.plain import MAX_DEPTH, PlainValueError, describe, is_plain, plain
from inventory_providers.serve import _dumps, _json_dumps


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    LARGE = 3


@dataclasses.dataclass
class Disk:
    label: str
    size: Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("4"), 4),
        (Decimal("4.0"), 4),
        (Decimal("1E+2"), 100),
        (Decimal("0.25"), 0.25),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05+00:00"),
        (date(2024, 1, 2), "2024-01-02"),
        (time(3, 4), "03:04:00"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (ipaddress.ip_address("10.0.0.1"), "10.0.0.1"),
        (ipaddress.ip_network("10.0.0.0/24"), "10.0.0.0/24"),
        (Colour.RED, "red"),
        (Size.LARGE, 3),
        ((1, "a"), [1, "a"]),
        ({"b", "a"}, ["a", "b"]),
        (frozenset({10, 9, 100}), [9, 10, 100]),
        (Disk("sda", Decimal("40.5")), {"label": "sda", "size": 40.5}),
        ({1: "one", "two": 2}, {"1": "one", "two": 2}),
    ],
)
def test_a_value_becomes_plain(value: Any, expected: Any) -> None:
    result = plain({"v": value}, "properties")["v"]

    assert result == expected
    assert type(result) is type(expected)
    assert json.loads(json.dumps(result)) == expected


def test_a_plugins_plain_dict_is_kept_as_it_is() -> None:
    properties = {"a": 1, "b": [1.5, None, {"c": True}], "d": {"e": "f"}}

    resource = ResourceData(ems_ref="x", resource_type_slug="network", properties=properties)

    assert resource.properties is properties
    assert is_plain(properties)
    assert not is_plain({"a": [1, {"b": Decimal(1)}]})


@pytest.mark.parametrize(
    ("properties", "where", "problem"),
    [
        ({"disks": [{}, {"raw": b"\x00"}]}, "properties.disks[1].raw", "bytes cannot be stored"),
        ({"x": object()}, "properties.x", "cannot be stored as JSON, got object <object"),
        ({"x": Decimal("NaN")}, "properties.x", "finite number, got decimal Decimal NaN"),
        (  # keys are looked at once a value is not plain (see is_plain)
            {("a", 1): Decimal(1)},
            "properties",
            "keys must be strings, got the key tuple ('a', 1)",
        ),
    ],
)
def test_what_has_no_plain_form_is_refused_by_path(
    properties: dict[Any, Any], where: str, problem: str
) -> None:
    with pytest.raises(ResourceValidationError) as caught:
        ResourceData(ems_ref="x", resource_type_slug="network", properties=properties)

    assert caught.value.field == where
    assert problem in str(caught.value)


def test_nesting_past_the_limit_is_left_to_the_service() -> None:
    """The SDK does not refuse it (that would fail the whole run): the service refuses
    the record alone."""
    deep: Any = Decimal(1)
    for _ in range(MAX_DEPTH + 10):
        deep = {"down": deep}

    resource = ResourceData(ems_ref="x", resource_type_slug="network", properties={"d": deep})

    level = resource.properties["d"]
    for _ in range(MAX_DEPTH - 2):
        level = level["down"]
    assert type(level) is dict


def test_describe_names_the_type_by_package_and_class() -> None:
    assert describe(-1) == "int -1"
    assert describe("on") == "str 'on'"
    assert describe(Decimal("2.5")) == "decimal Decimal 2.5"
    assert describe(None) == "None"
    assert describe("x" * 200).endswith("...")


@pytest.mark.parametrize("encode", [_dumps, _json_dumps])
def test_both_wire_encoders_write_plain_values(encode: Any) -> None:
    record = {
        "when": datetime(2024, 1, 2, tzinfo=UTC),
        "size": Decimal("40.5"),
        "count": Decimal("3"),
        "tags": {"b", "a"},
        "colour": Colour.RED,
    }

    sent = json.loads(encode(record))

    assert sent == {
        "when": "2024-01-02T00:00:00+00:00",
        "size": 40.5,
        "count": 3,
        "tags": ["a", "b"],
        "colour": "red",
    }


def test_plain_value_error_names_where() -> None:
    with pytest.raises(PlainValueError) as caught:
        plain({"a": [object()]}, "metrics")

    assert caught.value.where == "metrics.a[0]"
    assert str(caught.value).startswith("metrics.a[0]: ")
