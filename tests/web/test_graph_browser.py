"""The graph, tags and watchlists in a real browser (Debian's chromium, as test_browser.py
drives it) against the real service on a socket, on SQLite and PostgreSQL: follow a
relationship in the graph; tag two rows picked in the table and see it on their pages;
create a watchlist, add a row to it from the table, remove it from the watchlist's
page. No console error, no request leaving the origin."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from browsing import open_as
from conftest import ADMIN_PASSWORD
from factories import API, FINISHED


def _collected(url: str) -> dict[str, list[dict[str, Any]]]:
    """The simulated datacenter (2 hosts, 6 VMs) collected through the API; its
    resources by type."""
    body = {
        "name": "Lab", "vendor": "simulated", "provider_type": "datacenter",
        "infrastructure": "private_cloud", "endpoint": "dc.local", "organization": 1,
        "connection_config": {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3},
    }  # fmt: skip
    with httpx.Client(base_url=url + API, auth=("admin", ADMIN_PASSWORD)) as api:
        provider = api.post("/providers/", json=body).json()
        run = api.post(f"/providers/{provider['id']}/collect/").json()
        deadline = time.monotonic() + 60
        while api.get(f"/collection-runs/{run['id']}/").json()["status"] not in FINISHED:
            assert time.monotonic() < deadline, "the collection did not finish"
            time.sleep(0.1)
        found: dict[str, list[dict[str, Any]]] = {}
        for r in api.get("/resources/", params={"page_size": 200}).json()["results"]:
            found.setdefault(r["resource_type"], []).append(r)
    return found


def _node(page: Page, resource_id: int) -> Any:
    return page.locator(f"#graph a.node[data-id='{resource_id}']")


def test_follow_a_relationship_in_the_graph(browser: Browser, server: str) -> None:
    resources = _collected(server)
    vm = resources["virtual_machine"][0]
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    page.goto(f"/resources/{vm['id']}")
    expect(page.locator("#graph a.node.current")).to_have_attribute("data-id", str(vm["id"]))
    host_id = next(
        h["id"] for h in resources["hypervisor_host"] if _node(page, h["id"]).count() == 1
    )
    runs_on = page.locator(f"#graph .edge[data-source='{vm['id']}'][data-target='{host_id}']")
    expect(runs_on.locator("text")).to_have_text("runs_on")

    # Hovering the host lights its edges (the VM's among them) and dims the others.
    _node(page, host_id).hover()
    expect(runs_on).to_have_class(re.compile(r"\blit\b"))
    expect(page.locator("#graph svg")).to_have_class(re.compile(r"\bhovering\b"))

    _node(page, host_id).click()
    expect(page).to_have_url(re.compile(rf"/resources/{host_id}$"))
    expect(page.locator("#graph a.node.current")).to_have_attribute("data-id", str(host_id))
    expect(_node(page, vm["id"])).to_have_class(re.compile(r"\bd1\b"))  # a neighbour now
    expect(page.locator("#sightings tr.current")).to_have_count(1)
    assert watch.errors == [] and watch.foreign == []
    page.context.close()


def test_tag_rows_and_fill_a_watchlist_from_the_table(browser: Browser, server: str) -> None:
    vms = _collected(server)["virtual_machine"][:2]
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)

    # A static watchlist, created from its page.
    page.get_by_role("link", name="Watchlists").click()
    page.get_by_label("Name").fill("Patch tonight")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=re.compile("Patch tonight"))).to_be_visible()
    expect(page.locator("#member-count")).to_have_text("0")

    # Two rows picked in the table get a tag.
    page.goto("/resources?resource_type=virtual_machine")
    for vm in vms:
        page.get_by_label(f"Select {vm['name']}", exact=True).check()
    expect(page.locator("#picked")).to_have_text("2 selected")
    page.get_by_label("Tag to add").fill("env:lab")
    page.get_by_role("button", name="Add tag…").click()
    expect(page.locator("#flash")).to_have_text("Tagged 2 resource(s).")
    for vm in vms:
        page.goto(f"/resources/{vm['id']}")
        expect(page.locator("#tags .tag")).to_have_text(["user/env=lab"])
    page.goto("/resources?tag=env:lab")
    expect(page.locator("#resources input.pick")).to_have_count(2)

    # One of them into the watchlist, then out of it again from the watchlist's page.
    page.get_by_label(f"Select {vms[0]['name']}", exact=True).check()
    page.get_by_label("Watchlist").select_option(label="Patch tonight")
    page.get_by_role("button", name="Add to watchlist…").click()
    expect(page.locator("#flash")).to_have_text("Added 1 resource(s).")
    page.get_by_role("link", name="Watchlists").click()
    page.get_by_role("link", name="Patch tonight").click()
    expect(page.locator("#member-count")).to_have_text("1")
    members = page.locator("#members")
    expect(members.get_by_role("link", name=vms[0]["name"], exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Remove {vms[0]['name']}").click()
    expect(page.locator("#flash")).to_have_text("Removed 1 resource(s).")
    expect(page.locator("#member-count")).to_have_text("0")
    assert watch.errors == [] and watch.foreign == []
    page.context.close()
