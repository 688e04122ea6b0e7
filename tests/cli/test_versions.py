"""``estate plugin versions|yank|unyank|delete-version`` and ``estate provider
pin|unpin|upgrade|rollback`` against a real service."""

from __future__ import annotations

from pathlib import Path

from factories import fixture_plugin
from served import Estate, words


def test_versions_pin_upgrade_yank_and_delete(estate: Estate, tmp_path: Path) -> None:
    # A key of its own: the CLI's tests share one service (test_plugins has clitest:box).
    own = {"provider_type": "versioned", "constants": {"PROVIDER_TYPE": "versioned"}}
    older = fixture_plugin("clitest_box", tmp_path / "a", **own)
    estate.ok("plugin", "upload", str(older))
    newer = fixture_plugin(
        "clitest_box",
        tmp_path / "b",
        **own,
        version="1.1.0",
        supported_resource_types=["virtual_machine", "hypervisor_host"],
    )
    estate.ok("plugin", "upload", str(newer))
    provider_id = estate.provider("versioned", "-c", "username=u", key="clitest:versioned")

    listed = estate.json("plugin", "versions", "clitest:versioned")
    assert [(v["version"], v["used_by"]) for v in listed] == [
        ("1.1.0", [provider_id]),
        ("1.0.0", []),
    ]
    assert "1.1.0" in words(estate.ok("plugin", "versions", "clitest:versioned"))

    pinned = estate.json("provider", "pin", str(provider_id), "1.0.0")
    assert (pinned["from_version"], pinned["to_version"]) == ("1.1.0", "1.0.0")
    preview = words(estate.ok("provider", "upgrade", str(provider_id), "1.1.0", "--dry-run"))
    assert "would move 1.0.0 → 1.1.0" in preview and "hypervisor_host" in preview
    assert estate.json("provider", "show", str(provider_id))["plugin_version"] == "1.0.0"
    nothing = estate("provider", "rollback", str(provider_id))
    assert nothing.exit_code != 0 and "no earlier version" in words(nothing)

    no_reason = estate("plugin", "yank", "clitest:versioned", "1.0.0")
    assert no_reason.exit_code == 2
    yanked = words(estate.ok("plugin", "yank", "clitest:versioned", "1.0.0", "--reason", "broken"))
    assert "yanked clitest:versioned 1.0.0: broken" in yanked
    warned = estate.json("provider", "show", str(provider_id))["warnings"]
    assert any("yanked (broken)" in w for w in warned)
    estate.ok("plugin", "unyank", "clitest:versioned", "1.0.0")

    refused = estate("plugin", "delete-version", "clitest:versioned", "1.0.0", "--yes")
    assert refused.exit_code != 0 and f"{provider_id} (versioned)" in words(refused)
    estate.ok("provider", "unpin", str(provider_id))
    estate.ok("plugin", "delete-version", "clitest:versioned", "1.0.0", "--yes")
    assert [v["version"] for v in estate.json("plugin", "versions", "clitest:versioned")] == [
        "1.1.0"
    ]
