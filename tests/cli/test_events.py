"""``estate events …`` against a real service, with a plugin that publishes events."""

from __future__ import annotations

from pathlib import Path

from evented import SECRET
from factories import fixture_plugin
from served import Estate


def test_list_filter_and_show(estate: Estate, tmp_path: Path) -> None:
    estate.ok("plugin", "upload", str(fixture_plugin("evented", tmp_path / "evented")))
    config = ["-c", "username=ops", "-c", f"password={SECRET}"]
    provider_id = estate.provider("evented", *config, key="evented:platform")
    run = estate.json("provider", "collect", str(provider_id), "--wait")

    events = estate.json("events", "list", "--provider", str(provider_id))
    assert [e["type"] for e in events["results"]] == [
        "collect.done",
        "vm.missing",
        "session.opened",
    ]
    assert {e["run"] for e in events["results"]} == {run["id"]}
    warnings = estate.yaml("events", "list", "--run", str(run["id"]), "--severity", "warning")
    assert [e["type"] for e in warnings["results"]] == ["vm.missing"]
    typed = estate.json(
        "events", "list", "--type", "session.opened", "--provider", str(provider_id)
    )
    opened = typed["results"][0]
    assert estate.json("events", "show", str(opened["id"])) == opened
    assert opened["data"] == {"user": "ops", "token": "***"}
    table = estate.ok("events", "list", "--provider", str(provider_id)).stdout
    assert "vm-9 is gone" in table and SECRET not in table
    assert "logged in as ops with ***" in estate.ok("events", "show", str(opened["id"])).stdout
    assert estate("events", "list", "--severity", "loud").exit_code == 2
    assert estate("events", "show", "99999999").exit_code == 3
