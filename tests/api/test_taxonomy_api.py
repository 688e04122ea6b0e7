"""The taxonomy as the seed service serves it: categories, types, vendor type mappings,
property definitions; field names as its serializers write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import API, manifest, plugin_dir, tarball, upload

CATEGORY_FIELDS = {"id", "slug", "name", "description", "sort_order", "resource_type_count"}
TYPE_FIELDS = {
    "id", "slug", "name", "category", "category_slug", "category_name", "description",
    "is_countable", "long_term_strategic_value", "short_term_opportunity", "sort_order",
}  # fmt: skip
MAPPING_FIELDS = {
    "id", "vendor", "vendor_resource_type", "resource_type", "resource_type_slug",
    "ansible_collection", "ansible_module", "query_file_ref", "source",
}  # fmt: skip
DEFINITION_FIELDS = {
    "id", "resource_type", "resource_type_slug", "key", "name", "description", "value_type",
    "required", "example_value", "vendor_scope",
}  # fmt: skip


def _get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(f"{API}/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _bad(client: TestClient, path: str, **params: Any) -> str:
    response = client.get(f"{API}/{path}", params=params)
    assert response.status_code == 400, response.text
    detail: str = response.json()["detail"]
    return detail


def test_categories_count_their_types_and_answer_by_slug_or_id(client: TestClient) -> None:
    page = _get(client, "resource-categories/")
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 17 and len(page["results"]) == 17
    compute = page["results"][0]
    assert set(compute) == CATEGORY_FIELDS
    assert (compute["slug"], compute["name"], compute["sort_order"]) == ("compute", "Compute", 10)
    slugs = [c["slug"] for c in page["results"]]
    assert slugs[:4] == ["compute", "storage", "database", "networking"]
    types = _get(client, "resource-types/")["results"]
    for category in page["results"]:
        counted = sum(t["category_slug"] == category["slug"] for t in types)
        assert category["resource_type_count"] == counted > 0, category["slug"]
    assert _get(client, f"resource-categories/{compute['id']}/") == compute
    assert _get(client, "resource-categories/compute/") == compute
    assert _get(client, "resource-categories/network/")["slug"] == "networking"
    assert client.get(f"{API}/resource-categories/nosuch/").status_code == 404
    assert [c["slug"] for c in _get(client, "resource-categories/", search="ident")["results"]] == [
        "security_identity"
    ]
    by_name = _get(client, "resource-categories/", ordering="-name")["results"]
    assert [c["name"] for c in by_name] == sorted((c["name"] for c in by_name), reverse=True)
    two = _get(client, "resource-categories/", page=2, page_size=5)
    assert [c["slug"] for c in two["results"]] == slugs[5:10]
    assert two["next"] and "page=3" in two["next"] and "page=1" in two["previous"]
    assert "ordering" in _bad(client, "resource-categories/", ordering="colour")


def test_resource_types_keep_estate_fields_and_add_the_seeds(client: TestClient) -> None:
    page = _get(client, "resource-types/")
    assert page["count"] == len(page["results"]) >= 80 and page["next"] is None
    by_slug = {t["slug"]: t for t in page["results"]}
    vm = by_slug["virtual_machine"]
    assert set(vm) == TYPE_FIELDS
    assert vm["category"] == vm["category_slug"] == "compute"
    assert vm["category_name"] == "Compute"
    assert vm["is_countable"] is True and vm["sort_order"] == 10
    assert (vm["long_term_strategic_value"], vm["short_term_opportunity"]) == (5, 5)
    assert by_slug["datacenter"]["is_countable"] is False
    assert by_slug["datacenter"]["long_term_strategic_value"] is None
    assert by_slug["load_balancer"]["category_slug"] == "networking"
    assert _get(client, f"resource-types/{vm['id']}/") == vm
    assert _get(client, "resource-types/virtual_machine/") == vm
    assert client.get(f"{API}/resource-types/vm/").status_code == 404

    networking = _get(client, "resource-types/", category="networking")["results"]
    assert networking == _get(client, "resource-types/", category="network")["results"]
    category_id = _get(client, "resource-categories/networking/")["id"]
    assert networking == _get(client, "resource-types/", category=category_id)["results"]
    assert {t["category"] for t in networking} == {"networking"} and len(networking) > 20
    uncounted = _get(client, "resource-types/", is_countable="false")["results"]
    assert "datacenter" in {t["slug"] for t in uncounted}
    assert not any(t["is_countable"] for t in uncounted)
    found = _get(client, "resource-types/", search="bare metal")["results"]
    assert [t["slug"] for t in found] == ["bare_metal"]
    first = _get(client, "resource-types/", page_size=10)
    assert first["count"] == page["count"] and len(first["results"]) == 10
    assert "page=2" in first["next"]
    assert "category: 'cmpute'" in _bad(client, "resource-types/", category="cmpute")
    assert "is_countable" in _bad(client, "resource-types/", is_countable="maybe")
    assert "colour" in _bad(client, "resource-types/", ordering="-colour")


def test_vendor_type_mappings_merge_built_in_and_plugin_declared(
    client: TestClient, tmp_path: Path
) -> None:
    builtin = _get(client, "vendor-type-mappings/", vendor="vmware")
    names = {m["vendor_resource_type"]: m for m in builtin["results"]}
    vm = names["VirtualMachine"]
    assert set(vm) == MAPPING_FIELDS
    assert vm["resource_type_slug"] == "virtual_machine" and vm["source"] == "built-in"
    assert vm["resource_type"] == _get(client, "resource-types/virtual_machine/")["id"]
    assert {m["vendor"] for m in builtin["results"]} == {"vmware"}
    assert _get(client, f"vendor-type-mappings/{vm['id']}/") == vm

    declared = {"VirtualMachine": "virtual_machine", "Appliance": "load_balancer"}
    data = manifest(vendor_type_mappings=declared)
    assert (
        upload(client, tarball(plugin_dir(tmp_path / "p", manifest_data=data))).status_code == 201
    )
    mine = _get(client, "vendor-type-mappings/", vendor="myvendor")["results"]
    assert {(m["vendor_resource_type"], m["resource_type_slug"], m["source"]) for m in mine} == {
        ("VirtualMachine", "virtual_machine", "myvendor:myplatform"),
        ("Appliance", "load_balancer", "myvendor:myplatform"),
    }
    balancers = _get(client, "vendor-type-mappings/", resource_type="load_balancer")["results"]
    assert "Appliance" in {m["vendor_resource_type"] for m in balancers}
    assert {m["resource_type_slug"] for m in balancers} == {"load_balancer"}
    assert "resource_type" in _bad(client, "vendor-type-mappings/", resource_type="vm")
    assert client.get(f"{API}/vendor-type-mappings/nosuch/").status_code == 404

    wrong = manifest(version="1.0.1", vendor_type_mappings={"VirtualMachine": "vm"})
    refused = upload(client, tarball(plugin_dir(tmp_path / "q", manifest_data=wrong)))
    assert refused.status_code == 400
    assert "vendor_type_mappings.VirtualMachine: unknown type 'vm'" in refused.text
    assert len(_get(client, "vendor-type-mappings/", vendor="myvendor")["results"]) == 2


def test_property_definitions_by_type_and_vendor(client: TestClient) -> None:
    host = _get(client, "property-definitions/", resource_type="hypervisor_host", vendor="libvirt")
    keys = {d["key"] for d in host["results"]}
    assert {"hypervisor", "libvirt_version", "cores_per_socket"} <= keys
    first = host["results"][0]
    assert set(first) == DEFINITION_FIELDS
    assert first["resource_type_slug"] == "hypervisor_host"
    assert first["resource_type"] == _get(client, "resource-types/hypervisor_host/")["id"]
    cores = next(d for d in host["results"] if d["key"] == "cores_per_socket")
    assert (cores["name"], cores["value_type"], cores["vendor_scope"]) == (
        "Cores Per Socket",
        "integer",
        "libvirt",
    )
    assert cores["required"] is False
    assert _get(client, f"property-definitions/{cores['id']}/") == cores
    vms = _get(client, "property-definitions/", resource_type="virtual_machine", vendor="aws")
    scopes = {d["vendor_scope"] for d in vms["results"]}
    assert scopes == {"", "aws"}
    every = _get(client, "property-definitions/", vendor_scope="")["results"]
    assert every and {d["vendor_scope"] for d in every} == {""}
    booleans = _get(client, "property-definitions/", value_type="boolean")["results"]
    assert booleans and {d["value_type"] for d in booleans} == {"boolean"}
    assert "value_type" in _bad(client, "property-definitions/", value_type="text")
    assert "resource_type" in _bad(client, "property-definitions/", resource_type="vm")
    assert client.get(f"{API}/property-definitions/nosuch/").status_code == 404
