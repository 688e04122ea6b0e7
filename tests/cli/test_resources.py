"""``estate resources …`` and ``estate resource-types list`` against a real service."""

from __future__ import annotations

import time

from estate.inventory.queries import FEW
from served import Estate, words


def test_list_filters_pages_and_formats(estate: Estate) -> None:
    provider_id, _ = estate.collected("inventory")
    p = str(provider_id)

    vms = estate.json("resources", "list", "--provider", p, "--type", "virtual_machine")
    assert vms["count"] == 6
    assert {r["resource_type"] for r in vms["results"]} == {"virtual_machine"}
    table = estate.ok("resources", "list", "--provider", p, "--type", "virtual_machine")
    assert "6 resource(s)" in table.stdout
    assert table.stdout.count("virtual_machine") == 6
    page = estate.json("resources", "list", "--provider", p, "--limit", "5")
    assert (len(page["results"]), page["count"]) == (5, 16)
    every = estate.yaml("resources", "list", "--provider", p, "--limit", "5", "--all")
    assert len({r["id"] for r in every["results"]}) == 16
    assert "showing 5 of 16" in words(estate("resources", "list", "--provider", p, "--limit", "5"))
    name = vms["results"][0]["name"]
    found = estate.json("resources", "list", "--provider", p, "--search", name)
    assert name in [r["name"] for r in found["results"]]


def test_show_has_relationships_and_history_its_creation(estate: Estate) -> None:
    provider_id, run = estate.collected("detail")
    vm = estate.json(
        "resources", "list", "--provider", str(provider_id), "--type", "virtual_machine"
    )["results"][0]

    shown = estate.json("resources", "show", str(vm["id"]))
    assert shown["ems_ref"] == vm["ems_ref"]
    runs_on = [e for e in shown["relationships"] if e["relationship_type"] == "runs_on"]
    assert runs_on and runs_on[0]["direction"] == "outgoing"
    assert runs_on[0]["resource_type"] == "hypervisor_host"
    table = words(estate.ok("resources", "show", str(vm["id"])))
    assert "relationship(s)" in table and "runs_on" in table and vm["ems_ref"] in table

    history = estate.json("resources", "history", str(vm["id"]))
    assert [c["kind"] for c in history["results"]] == ["created"]
    assert history["results"][0]["run"] == run["id"]
    assert "created" in estate.ok("resources", "history", str(vm["id"])).stdout
    assert estate("resources", "show", "99999999").exit_code == 3


def test_resource_types(estate: Estate) -> None:
    types = estate.json("resource-types", "list")
    slugs = {t["slug"] for t in types["results"]}
    assert {"virtual_machine", "hypervisor_host", "cluster"} <= slugs
    compute = estate.yaml("resource-types", "list", "--category", "compute")
    assert compute["results"] and {t["category"] for t in compute["results"]} == {"compute"}
    assert "virtual_machine" in estate.ok("resource-types", "list").stdout


def test_a_broad_search_says_its_count_is_about_and_all_counts_it(estate: Estate) -> None:
    """More than FEW matches: the API estimates the count (X-Count-Estimated), the
    table says "about", and --all counts what it fetched."""
    provider_id = estate.provider("broad", "-c", f"resources={FEW + 400}")
    run = estate.json("provider", "collect", str(provider_id), "--wait")
    assert run["status"] == "completed", run
    args = ("resources", "list", "--provider", str(provider_id), "--search", "VirtualMachine")
    deadline = time.monotonic() + 60
    while "about" not in words(table := estate.ok(*args, "--limit", "5")):
        assert time.monotonic() < deadline, "never estimated: " + words(table)
        time.sleep(0.5)  # the service's search indexers catch up with the collection
    page = estate.json(*args, "--limit", "5")
    every = estate.json(*args, "--all")

    assert page["count_estimated"] is True
    assert f"showing 5 of about {page['count']} resource(s)" in words(table)
    assert "count_estimated" not in every
    assert every["count"] == len(every["results"]) > FEW
    assert abs(page["count"] - every["count"]) <= 0.1 * every["count"]
