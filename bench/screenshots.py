"""Screenshots of the web UI for the docs: ``make run``'s demo estate, in chromium.

Starts ``estate serve --demo`` on a fresh data directory (SQLite), waits for the demo
collection, powers one VM off so the change feed shows something, logs in with
Debian's chromium (Playwright) and saves each main page into docs/images/ at
1280x800 (losslessly recompressed by ``optipng`` when it is installed: Debian's
``optipng``). Prints one JSON line: each file and its size. The plugin repositories'
pages show the service registered as a repository of itself (kind ``estate``, with an
API token of its admin), synced: what it offers is its own built-ins, all installed.

    python bench/screenshots.py                          # every page
    python bench/screenshots.py repositories repository  # only these
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
API = "/api/inventory/v1"
PASSWORD = "screenshot-admin-password"
PAGES = {
    "dashboard": "/",
    "providers": "/providers",
    "provider": "/providers/1",
    "runs": "/runs",
    "run": "/runs/1",
    "resources": "/resources",
    "plugins": "/plugins",
    "catalog": "/catalog",
    "events": "/events",
    "watchlists": "/watchlists",
    "repositories": "/admin/repositories",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(client: httpx.Client, path: str, done: object, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = client.get(path)
            if answer.status_code == 200 and (value := done(answer.json())):  # type: ignore[operator]
                return value
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {path}")


def _repository(api: httpx.Client, url: str) -> int:
    """The service registered as a repository of itself, synced; its id."""
    token = api.post("/tokens/", json={"name": "self-repository"}).json()["token"]
    body = {"name": "central", "kind": "estate", "url": url, "token": token, "priority": 10}
    repository = api.post("/repositories/", json=body).json()["id"]
    api.post(f"/repositories/{repository}/sync/").raise_for_status()
    return int(repository)


def _prepare(url: str) -> tuple[int, int]:
    """Wait for the demo's collection, power one VM off, register a repository; the
    VM's id and the repository's."""
    with httpx.Client(base_url=url + API, auth=("admin", PASSWORD), timeout=30) as api:
        _wait(
            api,
            "/collection-runs/",
            lambda b: b["count"] and b["results"][0]["status"] == "completed",
        )
        vms = api.get(
            "/resources/", params={"resource_type": "virtual_machine", "state": "running"}
        )
        vm = vms.json()["results"][0]["id"]
        run = api.post(f"/resources/{vm}/actions/power_off/").json()["id"]
        _wait(api, f"/action-runs/{run}/", lambda b: b["status"] == "completed")
        return int(vm), _repository(api, url)


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "ESTATE_DATA_DIR": data, "ESTATE_ADMIN_PASSWORD": PASSWORD}
        estate = Path(sys.executable).with_name("estate")
        server = subprocess.Popen(
            [estate, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            cwd=data,
        )
        try:
            vm, repository = _prepare(url)
            pages = {
                **PAGES,
                "resource": f"/resources/{vm}",
                "repository": f"/admin/repositories/{repository}",
            }
            if only := sys.argv[1:]:
                pages = {name: path for name, path in pages.items() if name in only}
            sizes = _shoot(chromium, url, pages)
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps({"screenshots": sizes}))


def _shoot(chromium: str, url: str, pages: dict[str, str]) -> dict[str, int]:
    IMAGES.mkdir(parents=True, exist_ok=True)
    sizes = {}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 800})
        page.goto("/login")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url + "/")
        for name, path in pages.items():
            answer = page.goto(path)
            assert answer is not None and answer.status == 200, (path, answer)
            page.wait_for_timeout(1500)  # the lazy parts (actions) and the first live event
            shots = [(IMAGES / f"{name}.png", None)]
            if name == "resource":  # its graph is below the fold: a picture of its own
                shots.append((IMAGES / "graph.png", "#graph"))
            for target, part in shots:
                if part is None:
                    page.screenshot(path=target)
                else:
                    page.locator(part).screenshot(path=target)
                if optipng := shutil.which("optipng"):
                    subprocess.run([optipng, "-quiet", "-o2", str(target)], check=True)
                sizes[str(target.relative_to(REPO))] = target.stat().st_size
        browser.close()
    return sizes


if __name__ == "__main__":
    main()
