"""``estate provider …`` against a real service."""

from __future__ import annotations

import yaml

from served import Estate, words


def test_create_show_and_list(estate: Estate) -> None:
    created = estate.ok(
        "provider",
        "create",
        "--name",
        "lab",
        "--key",
        "simulated:datacenter",
        "--endpoint",
        "dc-1",
        "-c",
        "clusters=1",
        "-c",
        "vms_per_host=3",
    )
    match = words(created)
    assert "created provider" in match and "'lab'" in match
    assert created.stderr == ""  # the plugin is installed: no warning

    listed = estate.json("provider", "list")
    lab = next(p for p in listed["results"] if p["name"] == "lab")
    assert lab["endpoint"] == "dc-1"
    assert lab["connection_config"] == {"clusters": 1, "vms_per_host": 3}

    shown = estate.yaml("provider", "show", str(lab["id"]))
    assert shown == {**lab, "updated_at": shown["updated_at"]}
    table = estate.ok("provider", "list").stdout
    assert "lab" in table and "simulated:datacenter" in table and "dc-1" in table


def test_a_missing_plugin_is_allowed_with_a_warning(estate: Estate) -> None:
    result = estate("provider", "create", "--name", "later", "--key", "nosuch:thing")

    assert result.exit_code == 0, result.stderr
    assert "warning: no plugin is installed for nosuch:thing" in words(result)
    assert "created provider" in result.stdout

    provider_id = estate.provider("later-json", "-c", "a=1", key="nosuch:thing")
    updated = estate("provider", "update", str(provider_id), "--name", "renamed")
    assert "warning: no plugin is installed" in updated.stderr


def test_update_merges_config_and_toggles_enabled(estate: Estate) -> None:
    provider_id = estate.provider("to-update")

    changed = estate.json(
        "provider",
        "update",
        str(provider_id),
        "--name",
        "updated",
        "-c",
        "vms_per_host=5",
        "--disable",
    )

    assert changed["name"] == "updated"
    assert changed["enabled"] is False
    assert changed["connection_config"] == {
        "clusters": 1,
        "hosts_per_cluster": 2,
        "vms_per_host": 5,
    }
    refused = estate("provider", "collect", str(provider_id))
    assert refused.exit_code == 2
    assert "is disabled" in words(refused)
    assert estate.json("provider", "update", str(provider_id), "--enable")["enabled"] is True


def test_update_without_changes_and_bad_values_exit_2(estate: Estate) -> None:
    provider_id = estate.provider("unchanged")

    assert estate("provider", "update", str(provider_id)).exit_code == 2
    bad = estate("provider", "update", str(provider_id), "-c", 'clusters="many"')
    assert bad.exit_code == 2
    assert "clusters" in bad.stderr


def test_collect_wait_and_test(estate: Estate) -> None:
    provider_id = estate.provider("collected")

    tested = estate.ok("provider", "test", str(provider_id))
    assert "ok collected: connected" in words(tested)
    collected = estate.ok("provider", "collect", str(provider_id), "--wait")
    assert "collection run" in collected.stderr
    assert "completed: found 16, created 16" in words(collected)
    started = estate.json("provider", "collect", str(provider_id))
    assert started["provider"] == provider_id
    assert started["status"] in ("pending", "running")
    estate.ok("runs", "wait", str(started["id"]))


def test_delete_asks_and_refuses_without_a_terminal(estate: Estate) -> None:
    provider_id = estate.provider("doomed")

    refused = estate("provider", "delete", str(provider_id))

    assert refused.exit_code == 2
    assert "Pass --yes" in words(refused)
    assert estate.json("provider", "show", str(provider_id))["name"] == "doomed"
    deleted = estate.ok("provider", "delete", str(provider_id), "--yes")
    assert f"deleted provider {provider_id} 'doomed'" in words(deleted)
    gone = estate("provider", "show", str(provider_id))
    assert gone.exit_code == 3
    assert f"no provider with id {provider_id}" in words(gone) or "404" in gone.stderr


def test_list_pages_and_all(estate: Estate) -> None:
    for i in range(3):
        estate.provider(f"paged-{i}")

    first = estate("provider", "list", "--limit", "2")
    assert first.exit_code == 0
    assert "showing 2 of" in words(first)
    page = estate.json("provider", "list", "--limit", "2")
    every = estate.json("provider", "list", "--all", "--limit", "1")
    assert len(page["results"]) == 2
    assert page["next"]
    assert len(every["results"]) == every["count"] >= 3
    assert every["next"] is None
    assert yaml.safe_load(estate.ok("provider", "list", "-o", "yaml", "--all").stdout) == every
