"""How pages and assets travel, over real HTTP (uvicorn on loopback): pages and assets
gzip-compressed, the API's JSON and event streams not; asset URLs versioned and kept
for good by the browser, an unversioned one revalidated by its ETag."""

from __future__ import annotations

import re

import httpx

from conftest import ADMIN_PASSWORD
from estate.config import Settings
from estate.web.assets import IMMUTABLE, VERSION
from factories import API
from served import in_thread

GZIP = {"Accept-Encoding": "gzip"}


def test_pages_and_assets_are_compressed_and_versioned_assets_are_immutable(
    settings: Settings,
) -> None:
    with in_thread(settings) as url, httpx.Client(base_url=url, headers=GZIP) as browser:
        login = browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 303
        page = browser.get("/")
        assert page.headers["content-encoding"] == "gzip"
        assert page.headers["cache-control"] == "no-store"
        assert int(page.headers["content-length"]) < len(page.content)  # on the wire: less

        named = re.findall(r'(?:src|href)="(/static/web/[^"]+)"', page.text)
        assert {n.split("?")[0].rsplit("/", 1)[1] for n in named} >= {"htmx.min.js", "estate.css"}
        assert all(n.endswith(f"?v={VERSION}") for n in named), named
        for asset in named:
            answer = browser.get(asset)
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == IMMUTABLE
            if asset.split("?")[0].endswith((".js", ".css")):
                assert answer.headers["content-encoding"] == "gzip", asset

        plain = browser.get("/static/web/estate.css")
        assert plain.headers["cache-control"] == "no-cache"
        again = browser.get(
            "/static/web/estate.css", headers={"If-None-Match": plain.headers["etag"]}
        )
        assert again.status_code == 304

        api = browser.get(f"{API}/resource-types/")  # the session cookie: a page's call
        assert api.status_code == 200 and len(api.content) > 1000
        assert "content-encoding" not in api.headers
        with browser.stream("GET", "/live/dashboard") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in stream.headers
            assert next(stream.iter_lines()).startswith("retry:")
