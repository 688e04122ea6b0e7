"""A plugin's exception reaches the run's log (and its process's log) with its traceback.

Real plugin child processes: the traceback holds the plugin's own frames only, with
file names relative to its folder, and a secret the plugin put in its message masked.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from factories import API, collect, create_provider, fixture_plugin, tarball, upload

TOKEN = "tok-5f1c9a77e2"

EXPECTED = (
    "Traceback (most recent call last):\n"
    '  File "provider.py", line {line}, in {function}\n'
    "    open_session(self.credential.extra)\n"
    '  File "session.py", line 2, in open_session\n'
    "    raise RuntimeError(f\"no session for {{extra['api_token']}} at {{extra['site']}}\")\n"
    "RuntimeError: no session for *** at dc-1"
)


def install(client: TestClient, tmp_path: Path) -> dict[str, object]:
    folder = fixture_plugin("fragile", tmp_path / "fragile")
    assert upload(client, tarball(folder)).status_code == 201
    return create_provider(
        client,
        vendor="fragile",
        provider_type="plugin",
        connection_config={"api_token": TOKEN, "site": "dc-1"},
    )


def test_a_failed_run_logs_the_plugins_traceback_with_secrets_masked(
    client: TestClient, tmp_path: Path
) -> None:
    provider = install(client, tmp_path)

    run = collect(client, int(str(provider["id"])))

    assert run["status"] == "failed"
    assert run["error_message"] == "RuntimeError: no session for *** at dc-1"
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert EXPECTED.format(line=21, function="collect") in log
    assert TOKEN not in log
    assert "inventory_providers" not in log  # no frame of the SDK
    assert not re.search(r'File "/', log)  # file names relative to the plugin folder


def test_a_failed_connection_test_logs_the_traceback_in_its_process_log(
    client: TestClient, tmp_path: Path
) -> None:
    provider = install(client, tmp_path)

    answer = client.post(f"{API}/providers/{provider['id']}/test/").json()

    assert answer["ok"] is False
    assert answer["message"] == "RuntimeError: no session for *** at dc-1"
    [process] = client.get(f"{API}/plugin-processes/").json()["results"]
    lines = [entry["message"] for entry in process["log"] if entry["level"] == "error"]
    assert EXPECTED.format(line=24, function="validate_connection") in lines
    assert not any(TOKEN in entry["message"] for entry in process["log"])
