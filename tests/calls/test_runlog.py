"""The run log: what a plugin says, kept with secrets masked and storable everywhere."""

from pathlib import Path

from fastapi.testclient import TestClient

from estate.calls.runlog import MAX_LINES, RunLog
from factories import API, create_provider, fixture_plugin, tarball, upload, wait_for_run


def test_secret_values_are_masked_in_every_line() -> None:
    log = RunLog()
    log.redact(["hunter22", "ab"])  # too short to mask safely: left alone

    log.add("info", "logging in with hunter22 as ab")

    assert "hunter22" not in log.text()
    assert "*** as ab" in log.text()


def test_the_log_keeps_the_newest_lines_and_says_how_many_it_dropped() -> None:
    log = RunLog()
    for i in range(MAX_LINES + 5):
        log.add("info", f"line {i}")

    text = log.text()
    assert text.startswith("... 5 earlier line(s) dropped")
    assert f"line {MAX_LINES + 4}" in text
    assert "line 4\n" not in text


def test_a_plugin_printing_nul_characters_still_completes_its_run(
    client: TestClient, tmp_path: Path
) -> None:
    folder = fixture_plugin("prints_nul", tmp_path / "nul")
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client, name="nul", vendor="myvendor", provider_type="myplatform", connection_config={}
    )

    run = client.post(f"{API}/providers/{provider['id']}/collect/").json()
    done = wait_for_run(client, run["id"])

    assert done["status"] == "completed", done
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert "a NUL \\x00 on stdout" in log
