"""The ``@action`` decorator, the standard profiles' signature checks, and dispatch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from inventory_providers.actions import ActionDefinitionError, Param, action, check_params
from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import InvalidParameter, NotFound, Unsupported
from inventory_providers.profiles import PROFILE_NAMES, missing_actions
from inventory_providers.testing import make_provider


class _Base(BaseProvider):
    vendor = "test"
    provider_type = "actions"
    supported_resource_types = ["virtual_machine"]

    def connect(self) -> None:
        pass

    def collect(self) -> Iterator[ResourceData]:
        yield from ()

    def disconnect(self) -> None:
        pass


class Power(_Base):
    calls: list[tuple[str, Any, dict[str, Any]]]

    @action("power_off", applies_to=["virtual_machine"], profile="core", idempotent=True)
    def off(self, ems_ref: str, params: dict[str, Any]) -> str:
        if ems_ref != "vm-1":
            raise NotFound(f"no vm {ems_ref}")
        return f"{ems_ref} off"

    @action(
        "shutdown",
        applies_to=["virtual_machine"],
        profile="core",
        params=[Param("timeout", "integer", default=300), Param("force", "boolean")],
        available="_is_on",
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        return params

    @action(
        "set_boot_device", applies_to=["virtual_machine"], params=[Param("device", required=True)]
    )
    def boot(self, ems_ref: str, params: dict[str, Any]) -> str:
        return params["device"]

    def _is_on(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        on = (resource or {}).get("state") == "running"
        return on, "" if on else "it is not running"


def test_declared_actions_dispatch_with_checked_parameters() -> None:
    provider = make_provider(Power)

    assert provider.run_action("power_off", "vm-1", {}) == "vm-1 off"
    assert provider.run_action("shutdown", "vm-1", {"force": True}) == {
        "timeout": 300,
        "force": True,
    }
    assert provider.run_action("set_boot_device", "vm-1", {"device": "pxe"}) == "pxe"


def test_undeclared_unknown_and_bad_calls_fail_with_their_kind() -> None:
    provider = make_provider(Power)

    with pytest.raises(Unsupported, match="no action 'reboot'"):
        provider.run_action("reboot", "vm-1", {})
    with pytest.raises(NotFound):
        provider.run_action("power_off", "vm-2", {})
    with pytest.raises(InvalidParameter, match=r"params\.timeout: must be an integer"):
        provider.run_action("shutdown", "vm-1", {"timeout": "5"})
    with pytest.raises(InvalidParameter, match=r"params\.speed: unknown parameter"):
        provider.run_action("shutdown", "vm-1", {"speed": 1})
    with pytest.raises(InvalidParameter, match=r"params\.device: required"):
        provider.run_action("set_boot_device", "vm-1", {})


def test_metadata_reports_actions_and_availability_says_why_not() -> None:
    meta = Power.metadata()
    provider = make_provider(Power)

    assert [a["name"] for a in meta["actions"]] == ["power_off", "shutdown", "set_boot_device"]
    assert meta["actions"][1]["params"][0] == {
        "name": "timeout", "type": "integer", "required": False, "default": 300,
        "description": "", "secret": False,
    }  # fmt: skip
    assert meta["profiles"] == ["advanced"]  # core needs power_on, reboot and describe too
    assert provider.action_availability("shutdown", {"state": "stopped"}) == (
        False,
        "it is not running",
    )
    assert provider.action_availability("power_off", None) == (True, "")


def test_a_plugin_without_actions_is_unchanged() -> None:
    meta = _Base.metadata()

    assert meta["actions"] == [] and meta["profiles"] == []
    with pytest.raises(Unsupported):
        make_provider(_Base).run_action("power_on", "x", {})


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            {"name": "shutdown", "profile": "core", "params": [Param("timeout", "string")]},
            "parameter 'timeout' must be integer, not string",
        ),
        ({"name": "shutdown", "profile": "core"}, "missing parameter 'timeout'"),
        (
            {"name": "snapshot_revert", "profile": "snapshot", "params": [Param("snapshot")]},
            "parameter 'snapshot' must be required",
        ),
        (
            {
                "name": "power_on",
                "profile": "core",
                "params": [Param("delay", "integer", required=True)],
            },
            "extra parameter 'delay' must be optional",
        ),
        ({"name": "power_on", "profile": "snapshot"}, "'power_on' belongs to profile 'core'"),
        ({"name": "explode", "profile": "core"}, "profile 'core' has no action 'explode'"),
        ({"name": "power_on", "profile": "cor"}, "unknown profile 'cor'"),
        (
            {"name": "template_list", "profile": "clone"},
            "must apply to the provider (applies_to='provider')",
        ),
    ],
)
def test_a_wrong_profile_signature_fails_when_the_class_is_defined(
    declaration: dict[str, Any], message: str
) -> None:
    with pytest.raises(ActionDefinitionError) as caught:

        class Wrong(_Base):
            @action(applies_to=["virtual_machine"], **declaration)
            def act(self, ems_ref: str, params: dict[str, Any]) -> None:
                pass

    assert message in str(caught.value)
    assert "Wrong.act" in str(caught.value)


def test_param_specs_are_checked_where_they_are_written() -> None:
    with pytest.raises(ActionDefinitionError, match="type must be one of"):
        Param("x", "float")
    with pytest.raises(ActionDefinitionError, match="a required parameter has no default"):
        Param("x", required=True, default="y")
    with pytest.raises(ActionDefinitionError, match="declared twice"):
        action("a", applies_to=["virtual_machine"], params=[Param("x"), Param("x")])(lambda: None)


def test_check_params_names_what_is_wrong() -> None:
    params = [Param("mode", choices=("full", "linked"), default="full"), Param("n", "number")]

    assert check_params(params, {}) == {"mode": "full"}
    assert check_params(params, {"n": 2}) == {"mode": "full", "n": 2}
    with pytest.raises(ValueError, match=r"params\.mode: must be one of full, linked"):
        check_params(params, {"mode": "deep"})
    with pytest.raises(ValueError, match=r"params\.n: must be a number"):
        check_params(params, {"n": True})


def test_profiles_are_the_issues_five_with_their_required_actions() -> None:
    assert PROFILE_NAMES == ("core", "snapshot", "clone", "image", "advanced")
    assert missing_actions("core", ["power_on", "power_off"]) == ["describe", "reboot", "shutdown"]
    assert missing_actions("advanced", []) == []
