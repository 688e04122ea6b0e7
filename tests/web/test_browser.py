"""The web UI in a real browser (Debian's chromium driven by Playwright) against the real
service on a socket, on SQLite and PostgreSQL: log in, create a provider through the
form its plugin's manifest generates, collect it
and watch its progress reach completed, find a VM by search, power it off from its
page and watch the state change and the history diff appear; a viewer is offered no
button and refused by the API when posting anyway. Every page is checked for console
errors and for requests leaving the service's origin.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from browsing import add_viewer, open_as
from conftest import ADMIN_PASSWORD
from factories import API

SLOW = 60_000  # ms: a collection on a loaded CI machine


def _create_provider(page: Page) -> int:
    """Create the simulated datacenter's provider through the form its manifest makes."""
    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="New provider").click()
    page.get_by_label("Plugin").select_option("simulated:datacenter")
    page.get_by_role("button", name="Choose").click()
    expect(page.locator("[data-config=password]")).to_have_attribute("type", "password")
    expect(page.locator("[data-config=clusters]")).to_have_value("2")  # the default
    page.get_by_label("Name*").fill("Lab")
    page.get_by_label("Endpoint").fill("dc.local")
    for name, value in {"clusters": "1", "hosts_per_cluster": "2", "vms_per_host": "3"}.items():
        page.locator(f"[data-config={name}]").fill(value)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Lab")).to_be_visible()
    found = re.search(r"/providers/(\d+)$", page.url)
    assert found is not None, page.url
    return int(found.group(1))


def _running_vm(server: str) -> dict[str, Any]:
    with httpx.Client(base_url=server + API, auth=("admin", ADMIN_PASSWORD)) as api:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            vms = api.get(
                "/resources/", params={"resource_type": "virtual_machine", "state": "running"}
            ).json()["results"]
            name = vms[-1]["name"]
            # The search index is filled by a background thread: wait for this one.
            if api.get("/resources/", params={"search": name}).json()["count"]:
                return dict(vms[-1])
            time.sleep(0.2)
    raise AssertionError("the VM never became searchable")


def test_an_operator_collects_finds_and_powers_off_and_a_viewer_cannot(
    browser: Browser, server: str
) -> None:
    add_viewer(server)
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    provider_id = _create_provider(page)

    # Collect from the provider's page; the progress arrives over the page's stream.
    page.get_by_role("button", name="Collect now").click()
    expect(page.locator("#latest-run #run-status")).to_have_text("completed", timeout=SLOW)
    assert int(page.locator("#latest-run #found").inner_text()) > 0
    expect(page.locator("#latest-run #new")).not_to_have_text("0")

    # Find a running VM by search and open it.
    vm = _running_vm(server)
    page.get_by_role("link", name="Resources").click()
    page.get_by_label("Search").fill(vm["name"])
    page.get_by_role("button", name="Filter").click()
    page.locator("#resources").get_by_role("link", name=vm["name"], exact=True).click()
    expect(page.get_by_role("heading", name=vm["name"])).to_be_visible()
    expect(page.locator("#resource-state")).to_have_text("running")
    expect(page.locator("#history .kind.created")).to_be_visible()

    # Power it off: confirm, then the stream shows the new state and the history diff.
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("button[data-action=power_off]").click()
    expect(page.locator("#flash")).to_have_text("power_off started")
    expect(page.locator("#resource-state")).to_have_text("stopped", timeout=SLOW)
    expect(page.locator("#action-runs .status").first).to_have_text("completed", timeout=SLOW)
    page.reload()
    diff = page.locator("#history li.modified table.diff").first
    state = diff.locator("tr").filter(has=page.get_by_role("cell", name="state", exact=True))
    expect(state.locator("td.from")).to_have_text('"running"')
    expect(state.locator("td.to")).to_have_text('"stopped"')
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#running")).to_contain_text("Nothing is running")
    assert watch.errors == [] and watch.foreign == []

    # A viewer sees the same pages without a button, and the API refuses them anyway.
    viewer, viewer_watch = open_as(browser, server, "vera", "vera-password-1")
    viewer.goto(f"/providers/{provider_id}")
    expect(viewer.locator("#latest-run #run-status")).to_have_text("completed")
    expect(viewer.get_by_role("button", name="Collect now")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Edit")).to_have_count(0)
    viewer.goto(f"/resources/{vm['id']}")
    expect(viewer.locator("#resource-state")).to_have_text("stopped")
    expect(viewer.locator("form.action")).to_have_count(0)
    csrf = json.loads(viewer.locator("body").get_attribute("hx-headers") or "{}")
    refused = viewer.request.post(
        f"{API}/providers/{provider_id}/collect/",
        headers={**csrf, "Content-Type": "application/json"},
        data="{}",
    )
    assert refused.status == 403 and "operator" in refused.json()["detail"]
    assert viewer.request.get(f"/resources/{vm['id']}/actions").status == 403
    assert viewer_watch.errors == [] and viewer_watch.foreign == []
    for opened in (page, viewer):
        opened.context.close()  # their event streams end before the server does


def test_an_administrator_schedules_tests_and_deletes_a_provider(
    browser: Browser, server: str
) -> None:
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    provider_id = _create_provider(page)
    page.on("dialog", lambda dialog: dialog.accept())
    schedules = page.locator("#schedules tbody tr[data-schedule]")

    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#flash")).to_have_class("shown")  # the plugin's own answer
    expect(page.locator("#flash")).not_to_be_empty()

    # A cron expression the API refuses is told, and nothing is added.
    page.get_by_label("Name", exact=True).fill("nightly")
    page.get_by_label("Cron (UTC)").fill("61 2 * * *")
    page.get_by_role("button", name="Add schedule").click()
    expect(page.locator("#flash")).to_have_class("shown error")
    expect(page.locator("#flash")).to_contain_text("cron_expression")
    expect(schedules).to_have_count(0)

    page.get_by_label("Cron (UTC)").fill("0 2 * * *")
    page.get_by_role("button", name="Add schedule").click()
    expect(schedules).to_have_count(1)
    expect(schedules.first).to_contain_text("nightly")
    expect(schedules.first.locator("td").nth(2)).to_have_text("yes")
    schedules.first.get_by_role("button", name="Disable").click()
    expect(schedules.first.locator("td").nth(2)).to_have_text("no")
    expect(schedules.first.locator("td").nth(4)).to_have_text("—")  # never fires while off
    schedules.first.get_by_role("button", name="Delete").click()
    expect(schedules).to_have_count(0)

    page.locator("#delete-provider").click()  # confirmed
    expect(page).to_have_url(re.compile(r"/providers$"))
    expect(page.get_by_role("link", name="Lab")).to_have_count(0)
    assert page.request.get(f"/providers/{provider_id}").status == 404
    # chromium logs the one refused request (the bad cron expression) itself; no other
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert watch.errors == [refused] and watch.foreign == []
    page.context.close()
