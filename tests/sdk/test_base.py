"""The plugin contract in base.py: ResourceData, ProviderCredential, BaseProvider."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from inventory_providers.base import (
    BaseProvider,
    ProviderCredential,
    Relationship,
    ResourceData,
    ResourceValidationError,
)
from inventory_providers.testing import make_provider, run_provider


def full_resource() -> ResourceData:
    return ResourceData(
        ems_ref="vm-1",
        resource_type_slug="virtual_machine",
        name="web-1",
        description="front end",
        canonical_id="4210b1c2",
        vendor_identifiers={"moid": "vm-1"},
        vendor_type="VirtualMachine",
        state="running",
        power_state="poweredOn",
        boot_time="2024-05-01T10:00:00+00:00",
        region="dc-1",
        availability_zone="cluster-01",
        cpu_count=2,
        memory_mb=4096,
        disk_gb=40.5,
        ip_addresses=["10.0.0.1"],
        fqdn="web-1.example.com",
        mac_addresses=["00:50:56:00:00:01"],
        os_type="linux",
        os_name="Debian 12",
        properties={"guest_id": "debian12_64Guest", "nested": {"a": [1, 2]}},
        provider_tags={"env": "prod"},
        ansible_host="10.0.0.1",
        inventory_group="web",
        relationships=[
            Relationship("host-1", "runs_on"),
            {"target_ems_ref": "datastore-1", "relationship_type": "attached_to"},
        ],
        metrics={"cpu_usage_pct": 12.5},
    )


def field_of(excinfo: pytest.ExceptionInfo[ResourceValidationError]) -> str:
    assert isinstance(excinfo.value, ValueError)
    assert str(excinfo.value).startswith(excinfo.value.field)
    return excinfo.value.field


# -- ResourceData accepts ------------------------------------------------------------


def test_resource_data_accepts_the_seed_example_call() -> None:
    class VM:
        id = "vm-42"
        name = "db-1"
        active = False

    vm = VM()

    resource = ResourceData(
        ems_ref=vm.id,
        resource_type_slug="virtual_machine",
        name=vm.name,
        state="running" if vm.active else "stopped",
    )

    assert (resource.ems_ref, resource.name, resource.state) == ("vm-42", "db-1", "stopped")
    assert resource.ip_addresses == []
    assert resource.properties == {}


def test_resource_data_defaults_state_to_unknown() -> None:
    assert ResourceData(ems_ref="x", resource_type_slug="network").state == "unknown"


def test_resource_data_accepts_every_documented_field() -> None:
    data = full_resource().to_dict()

    assert data["disk_gb"] == 40.5
    assert data["relationships"] == [
        {"target_ems_ref": "host-1", "relationship_type": "runs_on"},
        {"target_ems_ref": "datastore-1", "relationship_type": "attached_to"},
    ]


def test_an_integer_ems_ref_becomes_a_string() -> None:
    assert ResourceData(ems_ref=123, resource_type_slug="virtual_machine").ems_ref == "123"  # type: ignore[arg-type]


def test_datetimes_are_stored_as_iso_8601() -> None:
    booted = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

    resource = ResourceData(
        ems_ref="vm-1",
        resource_type_slug="virtual_machine",
        boot_time=booted,
        ems_created_on=booted,
    )

    assert resource.boot_time == "2024-01-02T03:04:05+00:00"
    assert resource.to_dict()["ems_created_on"] == "2024-01-02T03:04:05+00:00"


# -- ResourceData refuses, naming the field ------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ems_ref": ""}, "ems_ref"),
        ({"ems_ref": None}, "ems_ref"),
        ({"resource_type_slug": "Virtual Machine"}, "resource_type_slug"),
        ({"state": 3}, "state"),
        ({"cpu_count": -1}, "cpu_count"),
        ({"cpu_count": True}, "cpu_count"),
        ({"memory_mb": "4096"}, "memory_mb"),
        ({"disk_gb": -0.5}, "disk_gb"),
        ({"name": 42}, "name"),
        ({"os_name": ["Debian"]}, "os_name"),
        ({"ip_addresses": "10.0.0.1"}, "ip_addresses"),
        ({"ip_addresses": ["10.0.0.1", 7]}, "ip_addresses"),
        ({"mac_addresses": [None]}, "mac_addresses"),
        ({"properties": ["a"]}, "properties"),
        ({"boot_time": 1700000000}, "boot_time"),
    ],
)
def test_resource_data_refuses_a_bad_value_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"ems_ref": "vm-1", "resource_type_slug": "virtual_machine"}

    with pytest.raises(ResourceValidationError) as excinfo:
        ResourceData(**{**values, **changes})

    assert field_of(excinfo) == field


def test_the_state_error_lists_the_known_states() -> None:
    with pytest.raises(ResourceValidationError, match="running") as excinfo:
        ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine", state=3)  # type: ignore[arg-type]

    assert "got int 3" in str(excinfo.value)


def test_resource_data_refuses_an_unknown_keyword_by_name() -> None:
    with pytest.raises(TypeError, match="colour"):
        ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine", colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("relationship", "field"),
    [
        ({"target_ems_ref": "host-1", "relationship_type": ""}, "relationship_type"),
        ({"target_ems_ref": "host-1", "relationship_type": 7}, "relationship_type"),
        ({"target_ems_ref": "", "relationship_type": "runs_on"}, "target_ems_ref"),
        ({"target_ems_ref": "host-1"}, "relationships"),
        ({"target_ems_ref": "h", "relationship_type": "runs_on", "weight": 1}, "relationships"),
        ("host-1", "relationships"),
    ],
)
def test_resource_data_refuses_a_bad_relationship(relationship: Any, field: str) -> None:
    with pytest.raises(ResourceValidationError) as excinfo:
        ResourceData(
            ems_ref="vm-1", resource_type_slug="virtual_machine", relationships=[relationship]
        )

    assert field_of(excinfo).startswith("relationships")
    assert field in field_of(excinfo)


def test_relationship_refuses_a_type_that_is_not_a_word_naming_it() -> None:
    with pytest.raises(ResourceValidationError, match="int 42") as excinfo:
        Relationship("host-1", 42)  # type: ignore[arg-type]

    assert field_of(excinfo).endswith("relationship_type")
    assert "runs_on" in str(excinfo.value)


# -- wire form -----------------------------------------------------------------------


def test_to_dict_and_from_dict_round_trip() -> None:
    resource = full_resource()

    wire = json.loads(json.dumps(resource.to_dict()))

    assert ResourceData.from_dict(wire) == resource
    assert ResourceData.from_dict(wire).to_dict() == resource.to_dict()


def test_to_dict_leaves_out_what_is_not_set() -> None:
    wire = ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine").to_dict()

    assert wire == {"ems_ref": "vm-1", "resource_type_slug": "virtual_machine", "state": "unknown"}


def test_to_dict_keeps_zero_counts() -> None:
    wire = ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine", cpu_count=0).to_dict()

    assert wire["cpu_count"] == 0


def test_from_dict_refuses_an_unknown_field_by_name() -> None:
    with pytest.raises(ResourceValidationError) as excinfo:
        ResourceData.from_dict(
            {"ems_ref": "vm-1", "resource_type_slug": "network", "colour": "red"}
        )

    assert field_of(excinfo) == "colour"


@pytest.mark.parametrize("missing", ["ems_ref", "resource_type_slug"])
def test_from_dict_refuses_a_missing_required_field(missing: str) -> None:
    wire = {"ems_ref": "vm-1", "resource_type_slug": "network"}
    del wire[missing]

    with pytest.raises(ResourceValidationError) as excinfo:
        ResourceData.from_dict(wire)

    assert field_of(excinfo) == missing


def test_from_dict_refuses_a_bad_value_naming_the_field() -> None:
    with pytest.raises(ResourceValidationError) as excinfo:
        ResourceData.from_dict(
            {"ems_ref": "vm-1", "resource_type_slug": "network", "cpu_count": -2}
        )

    assert field_of(excinfo) == "cpu_count"


# -- ProviderCredential --------------------------------------------------------------


def test_credential_from_config_maps_endpoint_and_config() -> None:
    config = {
        "username": "administrator@vsphere.local",
        "password": "secret",
        "port": "8443",
        "verify_ssl": False,
        "region": "us-east-1",
    }

    credential = ProviderCredential.from_config("vcsa01.lab.local", config)

    assert credential.hostname == "vcsa01.lab.local"
    assert credential.username == "administrator@vsphere.local"
    assert credential.password == "secret"
    assert credential.port == 8443
    assert credential.extra == {"verify_ssl": False, "region": "us-east-1"}


def test_credential_port_defaults_to_443() -> None:
    assert ProviderCredential.from_config(None, {}).port == 443


def test_credential_repr_hides_the_password() -> None:
    credential = ProviderCredential.from_config(
        "host", {"username": "admin", "password": "hunter2", "token": "t0ps3cret"}
    )

    for shown in (repr(credential), str(credential), f"{credential}"):
        assert "hunter2" not in shown
        assert "t0ps3cret" not in shown
        assert "admin" in shown


# -- BaseProvider --------------------------------------------------------------------


class TwoVMs(BaseProvider):
    vendor = "acme"
    provider_type = "cloud"
    display_name = "ACME Cloud"
    supported_resource_types = ["virtual_machine"]

    def connect(self) -> None:
        self.is_connected = True

    def disconnect(self) -> None:
        self.is_connected = False

    def collect(self) -> Iterator[ResourceData]:
        for n in (1, 2):
            yield ResourceData(ems_ref=f"vm-{n}", resource_type_slug="virtual_machine")


def test_provider_key_is_vendor_colon_type() -> None:
    assert TwoVMs.provider_key() == "acme:cloud"


def test_metadata_describes_the_class() -> None:
    assert TwoVMs.metadata() == {
        "key": "acme:cloud",
        "vendor": "acme",
        "provider_type": "cloud",
        "display_name": "ACME Cloud",
        "supported_resource_types": ["virtual_machine"],
        "class_name": "TwoVMs",
        "actions": [],
        "profiles": [],
    }


def test_a_provider_is_a_context_manager_that_always_disconnects() -> None:
    provider = TwoVMs(None, ProviderCredential())

    with pytest.raises(RuntimeError), provider:
        assert provider.is_connected
        raise RuntimeError("collect failed")

    assert not provider.is_connected


def test_a_provider_has_the_credential_and_a_logger() -> None:
    provider = make_provider(TwoVMs, endpoint="cloud.example", connection_config={"zone": "a"})

    assert provider.credential.hostname == "cloud.example"
    assert provider.credential.extra == {"zone": "a"}
    assert provider.logger.name.endswith("acme:cloud")


def test_validate_connection_reports_a_failing_connect() -> None:
    class Refused(TwoVMs):
        def connect(self) -> None:
            raise ConnectionRefusedError("port 443 closed")

    ok, message = make_provider(Refused).validate_connection()

    assert not ok
    assert "port 443 closed" in message


def test_validate_connection_succeeds_when_connect_does() -> None:
    assert make_provider(TwoVMs).validate_connection()[0] is True


def test_the_optional_methods_raise_not_implemented() -> None:
    provider = BaseProvider(None, ProviderCredential())

    for method in (provider.connect, provider.collect, provider.disconnect):
        with pytest.raises(NotImplementedError):
            method()


# -- the seed's "Writing a new plugin" example ---------------------------------------


class SomeSDK:
    """A platform SDK of the kind the seed example talks to."""

    class VM:
        def __init__(self, id: str, name: str, active: bool) -> None:
            self.id, self.name, self.active = id, name, active

    def __init__(self, host: str | None, token: str | None) -> None:
        self.host, self.token, self.is_open = host, token, True

    def list_vms(self) -> list[VM]:
        return [self.VM("i-1", "web", True), self.VM("i-2", "batch", False)]

    def close(self) -> None:
        self.is_open = False


class MyProvider(BaseProvider):  # written exactly as seed 000 shows it
    vendor = "myvendor"
    provider_type = "myplatform"
    supported_resource_types = ["virtual_machine"]

    def connect(self):  # type: ignore[no-untyped-def]
        self.client = SomeSDK(host=self.credential.hostname, token=self.credential.password)

    def disconnect(self):  # type: ignore[no-untyped-def]
        self.client.close()

    def collect(self):  # type: ignore[no-untyped-def]
        for vm in self.client.list_vms():
            yield ResourceData(
                ems_ref=vm.id,
                resource_type_slug="virtual_machine",
                name=vm.name,
                state="running" if vm.active else "stopped",
            )


def test_the_seed_example_plugin_runs_through_run_provider() -> None:
    resources = run_provider(
        MyProvider, endpoint="api.example", connection_config={"password": "token"}
    )

    assert [(r.ems_ref, r.name, r.state) for r in resources] == [
        ("i-1", "web", "running"),
        ("i-2", "batch", "stopped"),
    ]
    assert MyProvider.metadata()["key"] == "myvendor:myplatform"
    assert MyProvider.metadata()["display_name"] == "MyProvider"
