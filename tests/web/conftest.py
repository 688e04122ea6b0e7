"""The browser tests' fixtures: one chromium per module, the service on a socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from browsing import CHROMIUM
from estate.config import Settings
from served import in_thread


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One chromium for the module: Debian's, never a downloaded one."""
    assert CHROMIUM is not None, "chromium is not installed: `make system` installs it (apt)"
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield instance
    instance.close()


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """The service on a real socket; its event streams are cut at shut-down."""
    with in_thread(settings) as url:
        yield url
