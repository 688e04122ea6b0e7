"""Words outside Estate's vocabularies cost neither the record nor the run.

A state becomes the nearest vocabulary state with the plugin's word kept; a
relationship type is kept as given; each distinct word is logged once per run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory_providers import vocabulary
from inventory_providers.base import (
    STATE_SYNONYMS,
    STATES,
    BaseProvider,
    Relationship,
    ResourceData,
    ResourceValidationError,
    nearest_state,
)
from inventory_providers.loader import load_class
from inventory_providers.testing import run_provider

REPO = Path(__file__).resolve().parents[2]


def vm(**fields: Any) -> ResourceData:
    return ResourceData(ems_ref="i-1", resource_type_slug="virtual_machine", **fields)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "inventory_providers.resource" and r.levelno == logging.WARNING
    ]


# -- the table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("stopping", "stopped"),
        ("maintenance", "inactive"),
        ("pending", "provisioning"),
        ("shutting-down", "terminated"),
        ("terminated", "terminated"),
        ("suspended", "suspended"),
        ("paused", "suspended"),
        ("poweredOn", "running"),
        ("poweredOff", "stopped"),
        ("standBy", "inactive"),
        ("notResponding", "error"),
        ("inMaintenance", "inactive"),
        ("shutoff", "stopped"),
        ("crashed", "error"),
        ("pmsuspended", "suspended"),
        ("available", "active"),
        ("in-use", "active"),
        ("ACTIVE", "active"),
        ("Running", "running"),
        ("active_impaired", "error"),
        ("PoweringOn", "running"),
        ("Enabled", "active"),
        ("StandbyOffline", "inactive"),
        ("SHUTTING_DOWN", "terminated"),
        ("creating", "provisioning"),
        ("deleting", "terminated"),
        ("failed", "error"),
        ("retired", "decommissioned"),
        ("nostate", "unknown"),
        ("sparkling", "unknown"),
    ],
)
def test_a_platform_word_has_its_nearest_state(word: str, state: str) -> None:
    assert nearest_state(word) == state


def test_every_synonym_names_a_state_and_is_listed_once() -> None:
    listed = [word for words in vocabulary._SYNONYMS.values() for word in words.split()]

    assert set(vocabulary._SYNONYMS) <= STATES
    assert set(STATE_SYNONYMS.values()) <= STATES
    assert len(listed) == len(set(listed))
    assert all(key == key.lower() and "-" not in key and "_" not in key for key in listed)


# -- ResourceData ----------------------------------------------------------------------


def test_a_state_outside_the_vocabulary_keeps_the_record_and_the_word() -> None:
    resource = vm(state="stopping")

    assert (resource.state, resource.power_state) == ("stopped", "stopping")
    assert resource.to_dict()["power_state"] == "stopping"


def test_the_word_goes_to_properties_when_power_state_is_set() -> None:
    properties = {"engine": "postgres"}

    resource = vm(state="maintenance", power_state="available", properties=properties)

    assert (resource.state, resource.power_state) == ("inactive", "available")
    assert resource.properties == {"engine": "postgres", "source_state": "maintenance"}
    assert properties == {"engine": "postgres"}  # the plugin's dict is not changed


def test_the_plugins_own_source_state_is_left_alone() -> None:
    resource = vm(state="maintenance", power_state="on", properties={"source_state": "mine"})

    assert resource.state == "inactive"
    assert resource.properties == {"source_state": "mine"}


def test_a_word_that_is_the_power_state_already_is_not_repeated() -> None:
    resource = vm(state="poweredOn", power_state="poweredOn")

    assert (resource.state, resource.power_state, resource.properties) == (
        "running",
        "poweredOn",
        {},
    )


def test_an_unknown_word_is_stored_as_unknown() -> None:
    resource = vm(state="sparkling")

    assert (resource.state, resource.power_state) == ("unknown", "sparkling")


def test_a_state_that_is_not_a_string_is_still_refused() -> None:
    with pytest.raises(ResourceValidationError) as caught:
        vm(state=["running"])

    assert caught.value.field == "state"
    assert "got list ['running']" in str(caught.value)


def test_from_dict_settles_the_state_as_the_constructor_does() -> None:
    wire = {"ems_ref": "i-1", "resource_type_slug": "virtual_machine", "state": "stopping"}

    assert ResourceData.from_dict(wire) == vm(state="stopping")


def test_a_relationship_type_outside_the_vocabulary_is_kept_as_given() -> None:
    resource = vm(
        relationships=[
            Relationship("i-2", "manages"),
            {"target_ems_ref": "i-3", "relationship_type": "manages"},
            Relationship("host-1", "runs_on"),
        ]
    )

    assert [r["relationship_type"] for r in resource.relationships] == [  # type: ignore[index]
        "manages",
        "manages",
        "runs_on",
    ]


def test_a_relationship_type_must_still_be_a_word() -> None:
    with pytest.raises(ResourceValidationError) as caught:
        vm(relationships=[{"target_ems_ref": "i-2", "relationship_type": "x" * 101}])

    assert caught.value.field == "relationships[0].relationship_type"
    assert "at most 100 characters" in str(caught.value)


# -- one warning per distinct word per run --------------------------------------------


class Elsewhere(BaseProvider):
    """A plugin written for a service that stores words as given."""

    vendor = "elsewhere"
    provider_type = "cloud"
    supported_resource_types = ["virtual_machine"]

    def connect(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def collect(self) -> Iterator[ResourceData]:
        for i, state in enumerate(["stopping", "stopping", "maintenance", "running", "stopping"]):
            yield ResourceData(
                ems_ref=f"i-{i}",
                resource_type_slug="virtual_machine",
                state=state,
                relationships=[Relationship("asg-1", "manages")],
            )


def test_each_word_is_warned_about_once_per_run(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    first = run_provider(Elsewhere)
    first_warnings = warnings(caplog)
    caplog.clear()
    run_provider(Elsewhere)

    assert [r.state for r in first] == ["stopped", "stopped", "inactive", "running", "stopped"]
    assert len(first_warnings) == 3, first_warnings
    assert sum("'stopping'" in line and "'stopped'" in line for line in first_warnings) == 1
    assert sum("'maintenance'" in line for line in first_warnings) == 1
    assert sum("relationship_type 'manages'" in line for line in first_warnings) == 1
    assert len(warnings(caplog)) == 3  # the next run warns again


def test_estates_simulated_plugin_needs_none_of_this(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    cls = load_class(
        REPO / "plugins" / "simulated" / "datacenter", "provider.SimulatedDatacenterProvider"
    )

    found = run_provider(cls, connection_config={"resources": 300})

    assert len(found) >= 300
    assert warnings(caplog) == []


def test_the_table_in_the_plugin_docs_is_the_one_in_the_code() -> None:
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    table = text.split("## Words outside the vocabularies", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    documented = {
        word.strip(): state.strip(" `")
        for state, words in rows
        for word in words.split(",")
        if not word.strip().startswith("and ")
    }

    assert {word: nearest_state(word) for word in documented} == documented
    assert {vocabulary._key(word) for word in documented} == {
        word for words in vocabulary._SYNONYMS.values() for word in words.split()
    }
