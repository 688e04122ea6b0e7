"""The plugin repository's controls in a real browser (Debian's chromium) against the
real service on a socket: a system administrator yanks a version with a reason typed
in its inline form and unyanks it on /plugins, pins a provider with the "Pin to"
select and unpins it, and is told the API's 409 in the flash when deleting the version
a provider is pinned to (naming the provider)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from browsing import open_as
from conftest import ADMIN_PASSWORD
from factories import API, fixture_plugin, tarball

HOT = "hot:load"
# Chromium logs every answer >= 400 to the console itself: the refusal the page
# expects (and shows in its flash) is the only such line allowed.
REFUSED = "Failed to load resource: the server responded with a status of 409"


# The plugins table is live: its stream sends the table once on connect, which replaces
# the rows (and an inline form being typed in). Each page marks the swap on <html>
# (read as an attribute: the pages' CSP refuses the eval of wait_for_function).
MARK_SWAPS = (
    'document.addEventListener("htmx:sseMessage", function () {'
    ' document.documentElement.setAttribute("data-swapped", "yes"); });'
)


def _plugins_settled(page: Page) -> None:
    """Wait until the live table has been swapped in once since the page loaded."""
    expect(page.locator("html")).to_have_attribute("data-swapped", "yes")


def test_an_administrator_yanks_pins_and_is_told_the_refusals(
    browser: Browser, server: str, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server + API, auth=("admin", ADMIN_PASSWORD), timeout=120) as api:
        for version in ("1.0.0", "1.1.0"):
            folder = fixture_plugin("hot_load", tmp_path / version, version=version)
            files = {"plugin": ("hot.tar.gz", tarball(folder), "application/gzip")}
            assert api.post("/provider-plugins/upload/", files=files).status_code == 201
        body = {
            "name": "Hot", "infrastructure": "private_cloud", "vendor": "hot",
            "provider_type": "load", "endpoint": "hot.local", "organization": 1,
        }  # fmt: skip
        made = api.post("/providers/", json=body)
        assert made.status_code == 201, made.text
        provider = made.json()["id"]
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    page.add_init_script(MARK_SWAPS)

    page.goto("/plugins")
    _plugins_settled(page)
    newest = page.locator(f"#plugins [data-key='{HOT}'] [data-version='1.1.0']")
    newest.get_by_placeholder("why yank it").fill("loses disks on resize")
    newest.get_by_role("button", name="Yank").click()
    expect(newest.locator("[data-yanked]")).to_be_visible()
    expect(newest).to_contain_text("loses disks on resize")
    _plugins_settled(page)
    newest.get_by_role("button", name="Unyank").click()
    expect(newest.locator("[data-yanked]")).to_have_count(0)
    expect(newest.get_by_role("button", name="Yank")).to_be_visible()

    page.goto(f"/providers/{provider}")
    expect(page.locator("#version-policy")).to_have_text("latest compatible")
    expect(page.locator("#resolved-version")).to_contain_text("1.1.0")
    page.get_by_label("Pin to").select_option("1.0.0")
    page.locator("#pin-form").get_by_role("button", name="Pin").click()
    expect(page.locator("#version-policy")).to_have_text("1.0.0")
    expect(page.locator("#resolved-version")).to_contain_text("1.0.0")
    expect(page.locator("#rollback")).to_be_disabled()  # no job ran: nothing to return to

    page.goto("/plugins")
    _plugins_settled(page)
    pinned = page.locator(f"#plugins [data-key='{HOT}'] [data-version='1.0.0']")
    page.once("dialog", lambda dialog: dialog.accept())
    pinned.get_by_role("button", name="Delete version").click()
    expect(page.locator("#flash")).to_have_class("shown error")
    expect(page.locator("#flash")).to_contain_text(str(provider))
    expect(pinned).to_be_visible()

    page.goto(f"/providers/{provider}")
    page.get_by_role("button", name="Unpin").click()
    expect(page.locator("#version-policy")).to_have_text("latest compatible")
    assert [e for e in watch.errors if not e.startswith(REFUSED)] == [], watch.errors
    assert len(watch.errors) <= 1 and watch.foreign == []
    page.context.close()  # its event streams end before the server does
