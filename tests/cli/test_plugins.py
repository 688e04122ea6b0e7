"""``estate plugin …`` against a real service: upload, list, show, test, delete, refresh."""

from __future__ import annotations

from pathlib import Path

from factories import fixture_plugin
from served import Estate, words


def test_list_and_show_the_built_in_plugin(estate: Estate) -> None:
    listed = estate.json("plugin", "list")
    keys = {p["key"] for p in listed["results"]}
    assert {"simulated:datacenter", "example:nodejs"} <= keys
    assert "simulated:datacenter" in estate.ok("plugin", "list").stdout

    shown = estate.yaml("plugin", "show", "simulated:datacenter")
    assert shown["key"] == "simulated:datacenter"
    assert [v["version"] for v in shown["versions"]] == ["1.0.0"]
    assert shown["versions"][0]["is_active"] is True
    table = words(estate.ok("plugin", "show", "simulated:datacenter"))
    assert "versions" in table and "1.0.0" in table
    missing = estate("plugin", "show", "nosuch:plugin")
    assert missing.exit_code == 3
    assert "no plugin is installed with key 'nosuch:plugin'" in words(missing)


def test_upload_again_test_and_delete(estate: Estate, tmp_path: Path) -> None:
    folder = fixture_plugin("clitest_box", tmp_path / "box")

    uploaded = estate.json("plugin", "upload", str(folder))
    assert (uploaded["key"], uploaded["version"], uploaded["replaced"]) == (
        "clitest:box",
        "1.0.0",
        False,
    )
    again = estate.ok("plugin", "upload", str(folder))  # the same bytes: nothing changes
    assert "already installed clitest:box 1.0.0" in words(again)
    (folder / "provider.py").write_text((folder / "provider.py").read_text() + "\n# changed\n")
    changed = estate("plugin", "upload", str(folder), "--force")
    assert changed.exit_code == 2
    assert "immutable" in words(changed)

    provider_id = estate.provider("box", "-c", "username=u", key="clitest:box")
    tested = estate.json("plugin", "test", "clitest:box")
    assert [(r["provider"], r["ok"]) for r in tested["results"]] == [(provider_id, True)]

    refused = estate("plugin", "delete", "clitest:box")
    assert refused.exit_code == 2
    assert "Pass --yes" in words(refused)
    in_use = estate("plugin", "delete", "clitest:box", "--yes")
    assert in_use.exit_code == 2
    assert "1 provider(s) use clitest:box" in words(in_use)
    estate.ok("plugin", "delete", "clitest:box", "--yes", "--force")
    assert estate("plugin", "show", "clitest:box").exit_code == 3
    assert estate.json("provider", "show", str(provider_id))["plugin_installed"] is False


def test_a_failing_connection_test_exits_1(estate: Estate, tmp_path: Path) -> None:
    folder = fixture_plugin(
        "clitest_box",
        tmp_path / "down",
        constants={"PROVIDER_TYPE": "down", "UP": False, "MESSAGE": "down"},
        name="down",
        provider_type="down",
    )
    estate.ok("plugin", "upload", str(folder))
    provider_id = estate.provider("down", "-c", "username=u", key="clitest:down")

    plugin_test = estate("plugin", "test", "clitest:down")
    provider_test = estate("provider", "test", str(provider_id))

    assert plugin_test.exit_code == provider_test.exit_code == 1
    assert "failed down: down" in words(provider_test)


def test_refresh_and_processes(estate: Estate) -> None:
    refreshed = estate.json("plugin", "refresh")
    assert "simulated:datacenter" in refreshed["plugins"]
    assert refreshed["problems"] == []

    provider_id = estate.provider("warm")
    estate.ok("provider", "test", str(provider_id))
    processes = estate.json("plugin", "processes")
    slots = {p["slot"]: p for p in processes["results"]}
    assert slots[f"provider:{provider_id}"]["state"] == "running"
    assert f"provider:{provider_id}" in estate.ok("plugin", "processes").stdout


def test_an_unusable_upload_exits_2(estate: Estate, tmp_path: Path) -> None:
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"not an archive")

    result = estate("plugin", "upload", str(archive))

    assert result.exit_code == 2
    assert "400" in result.stderr
