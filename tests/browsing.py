"""What the browser tests share: Debian's chromium, a page that watches itself for
console errors and requests leaving the origin, logging in through the form, a viewer."""

from __future__ import annotations

import re
import shutil

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from conftest import ADMIN_PASSWORD
from factories import API

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Watch:
    """What a page did that it must not: console errors, requests to another origin."""

    def __init__(self, page: Page, origin: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "request", lambda r: None if r.url.startswith(origin) else self.foreign.append(r.url)
        )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def open_as(browser: Browser, server: str, username: str, password: str) -> tuple[Page, Watch]:
    """A new browser context logged in as ``username`` through the login form."""
    page = browser.new_context(base_url=server).new_page()
    watch = Watch(page, server)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page, watch


def add_viewer(server: str) -> None:
    """``vera``, a viewer in the default organization (API calls as admin)."""
    with httpx.Client(base_url=server + API, auth=("admin", ADMIN_PASSWORD)) as api:
        viewer = api.post("/users/", json={"username": "vera", "password": "vera-password-1"})
        assert viewer.status_code == 201, viewer.text
        member = {"user": viewer.json()["id"], "role": "viewer"}
        assert api.post("/organizations/1/members/", json=member).status_code == 201
