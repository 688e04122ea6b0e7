"""Remote plugin repositories in a real browser (Debian's chromium) against the real
service on a socket: a system administrator registers a static index served by
``python -m http.server`` through the form (the token typed in a password field and
never shown back), syncs it, is told in the flash why an unsigned version is refused,
installs the signed one, sees it on /plugins as installed from that repository, and is
told the sync's 502 once the index server is gone; then edits, disables and deletes
it, and what was installed from it stays installed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from browsing import open_as
from conftest import ADMIN_PASSWORD
from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_pem
from factories import API, fixture_plugin, tarball
from served import static_server, static_site

HOT = "hot:load"
TOKEN = "typed-but-never-shown-0815"
# Chromium logs every answer >= 400 to the console itself: the refusals the page
# expects (and shows in its flash) are the only such lines allowed.
REFUSED = re.compile(r"Failed to load resource: the server responded with a status of (400|502)")


def _site(server: str, root: Path) -> Path:
    """hot:load 1.1.0 signed by a key imported into the service, 1.0.0 unsigned."""
    private = new_private_key()
    with httpx.Client(base_url=server + API, auth=("admin", ADMIN_PASSWORD)) as api:
        body = {"name": "release", "public_key": public_pem(private.public_key()).decode()}
        assert api.post("/signing-keys/", json=body).status_code == 201
    signed = fixture_plugin("hot_load", root / "1.1.0", version="1.1.0")
    sign_package(signed, private)
    unsigned = fixture_plugin("hot_load", root / "1.0.0", version="1.0.0")
    return static_site(root / "site", HOT, {"1.1.0": tarball(signed), "1.0.0": tarball(unsigned)})


def test_an_administrator_registers_syncs_and_installs_from_a_static_index(
    browser: Browser, server: str, tmp_path: Path
) -> None:
    site = _site(server, tmp_path)
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    with static_server(site) as (url, index_server):
        page.goto("/admin")
        page.get_by_role("link", name="Plugin repositories").click()
        form = page.locator("#new-repository")
        form.get_by_label("Name").fill("mirror")
        form.get_by_label("Kind").select_option("static")
        form.get_by_label("URL").fill(url + "/")
        form.get_by_label("Token").fill(TOKEN)
        form.get_by_label("Priority").fill("10")
        form.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", name="mirror")).to_be_visible()
        expect(page.locator("[data-token]")).to_have_text("set")
        expect(page.locator("#offered")).to_contain_text("sync it first")

        page.locator("#repository-facts").get_by_role("button", name="Sync now").click()
        expect(page.locator("#flash")).to_have_text("Synced mirror")
        expect(page.locator("[data-sync-status]")).to_have_text("ok")
        unsigned = page.locator(f"#offered [data-key='{HOT}'][data-version='1.0.0']")
        signed = page.locator(f"#offered [data-key='{HOT}'][data-version='1.1.0']")

        unsigned.get_by_role("button", name="Install").click()
        expect(page.locator("#flash")).to_have_class("shown error")
        expect(page.locator("#flash")).to_contain_text("is not signed")
        expect(page.locator("#flash")).to_contain_text("estate plugin sign")

        signed.get_by_role("button", name="Install").click()
        expect(page.locator("#flash")).to_have_text(f"Installed {HOT} 1.1.0 from mirror")
        expect(signed.locator("[data-installed]")).to_have_text("installed")
        expect(signed.get_by_role("button", name="Install")).to_have_count(0)
        assert TOKEN not in page.content()

        index_server.kill()
        index_server.wait(timeout=10)
        page.locator("#repository-facts").get_by_role("button", name="Sync now").click()
        expect(page.locator("#flash")).to_have_class("shown error")
        expect(page.locator("#flash")).to_have_text(f"connection refused to {url}/index.json")

    # Edit (the empty token field keeps the stored token), disable, then delete.
    edit = page.locator("#edit-repository")
    edit.get_by_label("Priority").fill("20")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_have_text("Saved mirror")
    expect(page.locator("#repository-facts")).to_contain_text("20")
    expect(page.locator("[data-token]")).to_have_text("set")
    page.locator("#repository-facts").get_by_role("button", name="Disable").click()
    expect(page.locator("#repository-facts").get_by_role("button", name="Enable")).to_be_visible()
    expect(
        page.locator("#repository-facts").get_by_role("button", name="Sync now")
    ).to_be_disabled()

    page.goto("/admin/repositories")
    row = page.locator("#repositories [data-repository='mirror']")
    expect(row.locator("[data-sync-status]")).to_have_text("error")
    expect(row).to_contain_text(f"connection refused to {url}/index.json")
    expect(row.locator("td").nth(4)).to_have_text("no")
    assert TOKEN not in page.content()
    row.get_by_role("link", name="mirror").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#repository-facts").get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/admin/repositories$"))
    expect(page.locator("#repositories")).to_contain_text("No repository is registered.")

    page.goto("/plugins")
    version = page.locator(f"#plugins [data-key='{HOT}'] [data-version='1.1.0']")
    expect(version.locator("[data-source]")).to_have_text("remote")
    expect(version.locator("[data-repository]")).to_have_text("from mirror")
    assert [e for e in watch.errors if not REFUSED.match(e)] == [], watch.errors
    assert len(watch.errors) <= 2 and watch.foreign == []
    page.context.close()  # its event streams end before the server does
