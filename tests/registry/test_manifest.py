from typing import Any

import pytest
import yaml

from estate.registry.errors import InvalidPackage
from estate.registry.manifest import (
    Manifest,
    check_connection_config,
    check_connection_keys,
    parse_manifest,
    secret_names,
)

# Laid out as the vmware/vcenter plugin of seed 000's service writes it.
VCENTER = """\
---
# Provider manifest, galaxy.yml style.
namespace: vmware
name: vcenter
version: 0.1.0

display_name: "VMware vSphere (vCenter)"
description: >-
  Collects inventory from VMware vCenter Server and standalone ESXi hosts
  via the vSphere API.

vendor: vmware
provider_type: vcenter
infrastructure: private_cloud

authors:
  - Inventory Team <inventory@example.com>
license:
  - GPL-3.0-or-later
repository: https://example.com/inventory-service
documentation: https://example.com/inventory-service/docs/vcenter

requires_python: ">=3.11"

ansible_collection: vmware.vmware

supported_resource_types:
  - virtual_machine
  - hypervisor_host
  - container_orchestration_platform    # clusters
  - block_storage                        # datastores
  - auto_scaling_group                   # resource pools

connection_parameters:
  - name: username
    description: "vSphere username"
    type: string
    required: true
  - name: password
    description: "vSphere password"
    type: string
    required: true
    secret: true
  - name: port
    description: "vSphere API port"
    type: integer
    required: false
    default: 443
  - name: validate_certs
    type: boolean
    default: true
  - name: datacenter
    type: string

dependencies:
  python: requirements.txt
  collections: requirements.yml
  system: bindep.txt
"""


def vcenter(**changes: Any) -> str:
    """The vCenter manifest with top-level keys replaced (None removes one)."""
    data = yaml.safe_load(VCENTER)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def problems_of(text: str | bytes) -> list[str]:
    with pytest.raises(InvalidPackage) as caught:
        parse_manifest(text)
    return caught.value.problems


def test_seed_style_manifest_parses() -> None:
    manifest = parse_manifest(VCENTER)
    assert manifest.key == "vmware:vcenter"
    assert manifest.version == "0.1.0"
    assert manifest.infrastructure == "private_cloud"
    assert manifest.license == ["GPL-3.0-or-later"]
    assert manifest.supported_resource_types[3] == "block_storage"
    assert [p.name for p in manifest.connection_parameters][:3] == ["username", "password", "port"]
    assert manifest.connection_parameters[2].default == 443
    assert manifest.connection_parameters[4].required is False
    assert manifest.dependencies.python == "requirements.txt"
    assert manifest.runtime is None


def test_unknown_keys_are_kept_and_shown() -> None:
    manifest = parse_manifest(VCENTER)
    assert manifest.unknown_keys() == {"ansible_collection": "vmware.vmware"}
    assert manifest.model_dump()["ansible_collection"] == "vmware.vmware"


def test_bytes_with_a_bom_are_accepted() -> None:
    assert parse_manifest(b"\xef\xbb\xbf" + VCENTER.encode()).key == "vmware:vcenter"


def test_license_may_be_one_string() -> None:
    assert parse_manifest(vcenter(license="Apache-2.0")).license == ["Apache-2.0"]


@pytest.mark.parametrize("version", ["1.2.3", "1.2.3-rc.1", "0.0.1+build.7", "10.20.30-alpha"])
def test_semver_versions_are_accepted(version: str) -> None:
    assert parse_manifest(vcenter(version=version)).version == version


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "01.2.3", "1.2.3-", "latest"])
def test_a_bad_version_is_refused(version: str) -> None:
    [problem] = problems_of(vcenter(version=version))
    assert problem.startswith("manifest.yml: version: ")
    assert "SemVer" in problem


def test_an_unquoted_decimal_version_is_refused() -> None:
    [problem] = problems_of(VCENTER.replace("version: 0.1.0", "version: 1.0"))
    assert problem == "manifest.yml: version: must be a string, not a number (1.0)"


def test_required_keys_are_named_when_missing() -> None:
    problems = problems_of("ansible_collection: x\n")
    for key in ("version", "vendor", "provider_type", "supported_resource_types"):
        assert f"manifest.yml: {key}: is required" in problems


@pytest.mark.parametrize("key", ["vendor", "provider_type"])
@pytest.mark.parametrize("value", ["VMware", "1vendor", "v center", "vmware.vcenter"])
def test_vendor_and_type_must_be_lowercase_slugs(key: str, value: str) -> None:
    [problem] = problems_of(vcenter(**{key: value}))
    assert problem.startswith(f"manifest.yml: {key}: {value!r} is not a lowercase slug")


def test_an_unknown_resource_type_is_named_with_its_index() -> None:
    types = ["virtual_machine", "hypervisor_host", "vm"]
    [problem] = problems_of(vcenter(supported_resource_types=types))
    assert problem == "manifest.yml: supported_resource_types[2]: unknown type 'vm'"


def test_supported_resource_types_must_not_be_empty() -> None:
    [problem] = problems_of(vcenter(supported_resource_types=[]))
    assert problem == "manifest.yml: supported_resource_types: must not be empty"


def test_infrastructure_must_be_a_known_kind() -> None:
    [problem] = problems_of(vcenter(infrastructure="cloud"))
    assert problem.startswith("manifest.yml: infrastructure: must be one of ")
    assert "'private_cloud'" in problem and problem.endswith("not 'cloud'")


def test_a_known_key_with_a_bad_value_is_refused() -> None:
    [problem] = problems_of(vcenter(authors="Someone"))
    assert problem == "manifest.yml: authors: must be a list, not a string ('Someone')"


def test_a_parameter_type_must_be_known() -> None:
    params = [{"name": "port", "type": "float"}]
    [problem] = problems_of(vcenter(connection_parameters=params))
    assert problem.startswith("manifest.yml: connection_parameters[0].type: must be one of ")


def test_a_parameter_flag_must_be_a_boolean() -> None:
    params = [{"name": "token", "secret": "yes"}]
    [problem] = problems_of(vcenter(connection_parameters=params))
    assert problem == (
        "manifest.yml: connection_parameters[0].secret: must be true or false, not a string ('yes')"
    )


@pytest.mark.parametrize(
    ("kind", "default"),
    [("integer", "443"), ("integer", True), ("boolean", "true"), ("string", 5), ("list", {})],
)
def test_a_default_must_match_its_type(kind: str, default: Any) -> None:
    params = [{"name": "username"}, {"name": "opt", "type": kind, "default": default}]
    [problem] = problems_of(vcenter(connection_parameters=params))
    assert problem.startswith("manifest.yml: connection_parameters[1].default: must be ")


def test_parameter_names_are_unique() -> None:
    params = [{"name": "port", "type": "integer"}, {"name": "host"}, {"name": "port"}]
    [problem] = problems_of(vcenter(connection_parameters=params))
    assert problem == "manifest.yml: connection_parameters[2].name: duplicate name 'port'"


def test_a_parameter_needs_a_name() -> None:
    [problem] = problems_of(vcenter(connection_parameters=[{"type": "string"}]))
    assert problem == "manifest.yml: connection_parameters[0].name: is required"


def test_dependency_files_stay_inside_the_plugin() -> None:
    deps = {"python": "../../etc/passwd", "system": "/etc/bindep.txt"}
    problems = problems_of(vcenter(dependencies=deps))
    assert problems[0].startswith("manifest.yml: dependencies.python: '../../etc/passwd' must be")
    assert problems[1].startswith("manifest.yml: dependencies.system: '/etc/bindep.txt' must be")


def test_runtime_is_optional_and_checked() -> None:
    manifest = parse_manifest(vcenter(runtime={"command": ["./plugin", "--serve"]}))
    assert manifest.runtime is not None and manifest.runtime.command == ["./plugin", "--serve"]
    [problem] = problems_of(vcenter(runtime={"command": []}))
    assert problem == "manifest.yml: runtime.command: must not be empty"
    [problem] = problems_of(vcenter(runtime={"command": ["x"], "shell": True}))
    assert problem == "manifest.yml: runtime.shell: unknown key"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidPackage) as caught:
        parse_manifest(vcenter(vendor="VMware", supported_resource_types=["vm"]))
    assert len(caught.value.problems) == 2
    assert str(caught.value) == "; ".join(caught.value.problems)
    assert caught.value.status_code == 400


def test_an_empty_file_is_refused() -> None:
    assert problems_of("") == ["manifest.yml: the file is empty"]
    assert problems_of("# only a comment\n") == ["manifest.yml: the file is empty"]


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of("- a\n- b\n") == [
        "manifest.yml: must be a mapping of keys to values, not a list"
    ]
    assert problems_of("just text\n") == [
        "manifest.yml: must be a mapping of keys to values, not a string ('just text')"
    ]


def test_bad_yaml_reports_the_line() -> None:
    [problem] = problems_of("vendor: vmware\nprovider_type: [vcenter\nversion: 1.0.0\n")
    assert problem.startswith("manifest.yml: line 3: invalid YAML: ")


def test_non_utf8_bytes_are_refused() -> None:
    assert problems_of(b"vendor: \xff\n") == ["manifest.yml: not UTF-8 text (byte 8)"]


def test_non_string_keys_are_refused() -> None:
    assert problems_of(VCENTER + "1: one\n") == ["manifest.yml: key 1 is not a string"]


def test_an_alias_bomb_is_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    [problem] = problems_of(VCENTER + "\n".join(lines) + "\n")
    assert problem.startswith("manifest.yml: too many values")


def test_the_manifest_model_can_be_built_directly() -> None:
    manifest = Manifest.model_validate(yaml.safe_load(VCENTER))
    assert manifest.key == "vmware:vcenter"


# connection_config, as seed 000's provider payloads carry it


def test_the_seed_payload_passes() -> None:
    params = parse_manifest(VCENTER).connection_parameters
    config = {
        "username": "administrator@vsphere.local",
        "password": "secret",
        "port": 443,
        "verify_ssl": False,
    }
    assert check_connection_config(params, config) == []


def test_required_parameters_must_be_given() -> None:
    params = parse_manifest(VCENTER).connection_parameters
    assert check_connection_config(params, {"password": "x"}) == [
        "connection_config.username: is required"
    ]
    assert check_connection_config(params, {"username": "", "password": "x"}) == [
        "connection_config.username: is required"
    ]


def test_a_required_parameter_with_a_default_may_be_left_out() -> None:
    params = parse_manifest(
        vcenter(
            connection_parameters=[
                {"name": "port", "type": "integer", "required": True, "default": 443}
            ]
        )
    ).connection_parameters
    assert check_connection_config(params, {}) == []


def test_values_must_match_their_types() -> None:
    params = parse_manifest(VCENTER).connection_parameters
    config: dict[str, Any] = {
        "username": "u",
        "password": "p",
        "port": "443",
        "validate_certs": "no",
    }
    assert check_connection_config(params, config) == [
        "connection_config.port: must be an integer",
        "connection_config.validate_certs: must be true or false",
    ]
    config = {"username": "u", "password": "p", "port": True}
    assert check_connection_config(params, config) == ["connection_config.port: must be an integer"]


def test_password_is_always_secret() -> None:
    assert secret_names(None) == {"password"}
    assert secret_names(parse_manifest(VCENTER)) == {"password"}
    params = [
        {"name": "access_key_id", "required": True},
        {"name": "secret_access_key", "secret": True},
        {"name": "session_token", "secret": True},
    ]
    manifest = parse_manifest(vcenter(connection_parameters=params))
    assert secret_names(manifest) == {"password", "secret_access_key", "session_token"}


def test_undeclared_keys_are_named_with_the_closest_declared_one() -> None:
    manifest = parse_manifest(VCENTER)
    assert check_connection_keys(manifest, {"username": "u", "port": 443, "verify_ssl": True}) == []
    [problem] = check_connection_keys(manifest, {"validate_cert": True})
    assert problem.startswith(
        "connection_config.validate_cert: unknown parameter for vmware:vcenter; "
        "did you mean 'validate_certs'? (known: "
    )
    bare = parse_manifest(vcenter(connection_parameters=[]))
    assert check_connection_keys(bare, {"anything": 1}) == []


def test_claimed_profiles_are_kept_and_a_typo_is_refused_with_a_hint() -> None:
    assert parse_manifest(vcenter(profiles=["core", "snapshot"])).profiles == ["core", "snapshot"]
    [problem] = problems_of(vcenter(profiles=["core", "snapshots"]))
    assert problem.startswith("manifest.yml: profiles[1]: unknown profile 'snapshots'")
    assert "did you mean 'snapshot'?" in problem


def test_the_catalog_fields_are_checked_maturity_with_a_hint_and_tags_as_slugs() -> None:
    parsed = parse_manifest(vcenter(maturity="beta", tags=["virtualization", "vmware"]))
    assert (parsed.maturity, parsed.tags) == ("beta", ["virtualization", "vmware"])
    [problem] = problems_of(vcenter(maturity="stabel"))
    assert problem.startswith("manifest.yml: maturity: unknown maturity 'stabel'")
    assert "did you mean 'stable'?" in problem
    [problem] = problems_of(vcenter(tags=["ok", "Not OK"]))
    assert problem.startswith("manifest.yml: tags[1]: 'Not OK' is not a lowercase slug")
