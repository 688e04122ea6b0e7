"""The service settles words outside the vocabularies as the SDK does.

A record that reaches the service as JSON (a plugin in another language, or a Python
plugin yielding dicts) with a state or relationship type outside the vocabularies is
read a second time with those fields free, settled by the SDK's own rule, and lists
the words for the run's log.
"""

from __future__ import annotations

from typing import Any

import pytest

from estate.inventory.records import DATA_COLUMNS, identify, rules_key, to_record
from inventory_providers.base import STATES, ResourceData, ResourceValidationError


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "stopping"},
        {"state": "maintenance", "power_state": "available", "properties": {"a": 1}},
        {"state": "maintenance", "power_state": "on"},
        {"state": "sparkling"},
        {"state": "x" * 150},
        {
            "state": "running",
            "relationships": [{"target_ems_ref": "h", "relationship_type": "manages"}],
        },
    ],
)
def test_the_service_and_the_sdk_settle_alike(fields: dict[str, Any]) -> None:
    wire = {"ems_ref": "i-1", "resource_type_slug": "virtual_machine", **fields}

    by_service = to_record(wire)
    by_sdk = to_record(ResourceData(**wire).to_dict())

    assert by_service.values == by_sdk.values
    assert by_service.relationships == by_sdk.relationships
    assert dict(zip(DATA_COLUMNS, by_service.values, strict=True))["state"] in STATES


def test_the_service_lists_the_words_it_settled() -> None:
    record = to_record(
        {
            "ems_ref": "i-1",
            "resource_type_slug": "virtual_machine",
            "state": "stopping",
            "relationships": [{"target_ems_ref": "asg-1", "relationship_type": "manages"}],
        }
    )

    assert record.words == (
        ("state", "stopping", "stopped"),
        ("relationship_type", "manages", "manages"),
    )
    assert record.relationships == (("asg-1", "manages"),)
    assert to_record({"ems_ref": "i-1", "resource_type_slug": "virtual_machine"}).words == ()


def test_a_settled_record_is_read_again_each_run() -> None:
    """Its hash is never the one of its bytes alone, so the next run reads it (and notes
    its words) instead of touching it unread; and it is the same each run."""
    raw = b'{"ems_ref":"i-1","resource_type_slug":"virtual_machine","state":"stopping"}'
    plain = b'{"ems_ref":"i-1","resource_type_slug":"virtual_machine","state":"stopped"}'
    key = rules_key(None)

    assert identify(raw, key) != ("i-1", to_record(raw).content_hash)
    assert to_record(raw).content_hash == to_record(raw).content_hash
    assert identify(plain, key) == ("i-1", to_record(plain).content_hash)


def test_the_service_refuses_what_the_sdk_refuses() -> None:
    too_long = {"target_ems_ref": "h", "relationship_type": "x" * 101}
    wire = {"ems_ref": "i-1", "resource_type_slug": "virtual_machine", "relationships": [too_long]}

    with pytest.raises(ResourceValidationError) as by_service:
        to_record(wire)
    with pytest.raises(ResourceValidationError) as by_sdk:
        ResourceData(**wire)

    assert by_service.value.field == by_sdk.value.field == "relationships[0].relationship_type"
