"""The plugins, catalog and administration pages in a real browser (Debian's chromium,
Playwright) against the real service on a socket, on SQLite and PostgreSQL: a system
administrator drops a plugin archive on the upload zone and watches the new version
go preparing → ready on the page, finds it in the catalog, is shown the API's refusal
of a bad archive, and deletes the plugin; a viewer is offered neither. A user and an
API token are made (the user's role changed and removed, the token revoked) through
the administration pages, and the token works against the API until then. Every page
is watched for console errors and for requests leaving the origin."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from browsing import add_viewer, open_as
from conftest import ADMIN_PASSWORD
from factories import API, fixture_plugin, manifest, plugin_dir, tarball

SLOW = 60_000  # ms: preparing an environment on a loaded CI machine
# Chromium logs every answer >= 400 to the console itself; the refusal of the bad
# archive is one the page expects (and shows), so that line alone is allowed.
REFUSED = "Failed to load resource: the server responded with a status of 400"


def _drop(page: Page, selector: str, name: str, data: bytes) -> None:
    """Drop a file on ``selector`` as a person dragging it from their desktop would:
    a ``drop`` event whose DataTransfer holds it."""
    transfer = page.evaluate_handle(
        """([name, encoded]) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "application/gzip" }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode()],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_an_administrator_uploads_a_plugin_by_drag_and_drop(
    browser: Browser, server: str, tmp_path: Path
) -> None:
    add_viewer(server)
    good = tarball(fixture_plugin("seed", tmp_path / "good", version="1.2.0"))
    bad_manifest = manifest(supported_resource_types=["vm"])
    bad = tarball(plugin_dir(tmp_path / "bad", manifest_data=bad_manifest))
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    page.get_by_role("link", name="Plugins", exact=True).click()
    expect(page.get_by_role("heading", name="Plugins")).to_be_visible()
    expect(page.locator("#plugins [data-key='simulated:datacenter']")).to_be_visible()

    _drop(page, "#dropzone", "myplatform.tar.gz", good)
    expect(page.locator("#upload-status")).to_have_text(
        "Uploaded myvendor:myplatform 1.2.0: preparing"
    )
    version = page.locator("#plugins [data-key='myvendor:myplatform'] [data-version='1.2.0']")
    expect(version.locator("[data-state]")).to_have_text("ready", timeout=SLOW)
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")

    page.get_by_role("link", name="Catalog", exact=True).click()
    row = page.locator("#catalog [data-key='myvendor:myplatform']")
    expect(row).to_contain_text("1.2.0")
    row.get_by_role("link", name="My platform").click()
    expect(page.get_by_role("heading", name="My platform")).to_be_visible()
    expect(page.locator("dl.fields")).to_contain_text("myvendor:myplatform")

    # A bad archive through the plain file input: the API's detail, nothing installed.
    page.get_by_role("link", name="Plugins", exact=True).click()
    page.locator("#plugin-file").set_input_files(
        {"name": "bad.tar.gz", "mimeType": "application/gzip", "buffer": bad}
    )
    status = page.locator("#upload-status")
    expect(status).to_have_class("error")
    expect(status).to_contain_text("supported_resource_types")
    expect(status).to_contain_text("vm")

    # Deleted from its row: every version goes, from the page and from the API.
    page.once("dialog", lambda dialog: dialog.accept())
    uploaded = page.locator("#plugins [data-key='myvendor:myplatform']")
    uploaded.get_by_role("button", name="Delete", exact=True).click()
    expect(uploaded).to_have_count(0)
    with httpx.Client(base_url=server + API, auth=("admin", ADMIN_PASSWORD)) as api:
        assert api.get("/provider-plugins/myvendor:myplatform/").status_code == 404
    assert [e for e in watch.errors if not e.startswith(REFUSED)] == [], watch.errors
    assert len(watch.errors) <= 1 and watch.foreign == []

    viewer, viewer_watch = open_as(browser, server, "vera", "vera-password-1")
    viewer.goto("/plugins")
    expect(viewer.locator("#plugins [data-key='simulated:datacenter']")).to_be_visible()
    expect(viewer.locator("#dropzone")).to_have_count(0)
    expect(viewer.locator("#plugins").get_by_role("button", name="Delete")).to_have_count(0)
    expect(viewer.locator("#processes")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    assert viewer_watch.errors == [] and viewer_watch.foreign == []
    for opened in (page, viewer):
        opened.context.close()  # their event streams end before the server does


def _token_works(server: str, token: str) -> int:
    answer = httpx.get(
        f"{server}{API}/users/me/", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return answer.status_code


def test_an_administrator_makes_a_user_and_a_token_on_the_admin_pages(
    browser: Browser, server: str
) -> None:
    page, watch = open_as(browser, server, "admin", ADMIN_PASSWORD)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Admin", exact=True).click()
    page.locator("#admin-sections").get_by_role("link", name="Users").click()
    form = page.locator("#new-user")
    form.get_by_label("User name").fill("olga")
    form.get_by_label("Password").fill("olga-password-1")
    form.get_by_label("Organization").select_option(label="Default")
    form.get_by_role("button", name="Create user").click()
    olga = page.locator("#users [data-user='olga']")
    expect(olga).to_contain_text("1: viewer")

    # Her role in the default organization, changed and then taken away on its page.
    page.goto("/admin/organizations/1")
    member = page.locator("#members [data-member='olga']")
    member.get_by_label("Role of olga").select_option("operator")
    with page.expect_navigation():  # the page reloads once the API said yes
        member.get_by_role("button", name="Change").click()
    page.goto("/admin/users")
    expect(olga).to_contain_text("1: operator")
    page.goto("/admin/organizations/1")
    member.get_by_role("button", name="Remove").click()
    expect(member).to_have_count(0)

    page.goto("/admin/tokens")
    page.locator("#new-token").get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-once code")
    expect(secret).not_to_have_text("")
    token = secret.inner_text()
    assert _token_works(server, token) == 200
    page.reload()
    mine = page.locator("table.tokens").first.locator(f"[data-token='{token[:8]}']")
    expect(mine).to_contain_text("ci")
    assert token not in page.content()  # shown that once only

    mine.get_by_role("button", name="Revoke").click()
    expect(page.locator("table.tokens").first.locator("[data-token]")).to_have_count(0)
    assert _token_works(server, token) == 401
    assert watch.errors == [] and watch.foreign == []
    page.context.close()
