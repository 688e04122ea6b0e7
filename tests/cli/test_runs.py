"""``estate runs …`` against a real service."""

from __future__ import annotations

import json

from served import Estate, words


def test_list_show_log_and_wait(estate: Estate) -> None:
    provider_id, run = estate.collected("runs")
    other, _ = estate.collected("other")

    listed = estate.json("runs", "list", "--provider", str(provider_id))
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    completed = estate.json("runs", "list", "--status", "completed", "--all")
    assert {r["provider"] for r in completed["results"]} >= {provider_id, other}
    shown = estate.yaml("runs", "show", str(run["id"]))
    assert shown["resources_created"] == 16
    assert "simulated" in shown["log"]
    assert f"{run['id']}" in estate.ok("runs", "list").stdout
    log = estate.ok("runs", "log", str(run["id"])).stdout
    assert log == shown["log"] if shown["log"].endswith("\n") else shown["log"] + "\n"
    waited = estate.ok("runs", "wait", str(run["id"]))
    assert f"run {run['id']} completed: found 16" in words(waited)


def test_bad_status_and_unknown_run(estate: Estate) -> None:
    bad = estate("runs", "list", "--status", "sleeping")
    assert bad.exit_code == 2
    assert "status: 'sleeping' is not one of pending" in words(bad)
    missing = estate("runs", "show", "987654")
    assert missing.exit_code == 3
    assert estate("runs", "log", "987654").exit_code == 3


def test_cancel(estate: Estate) -> None:
    _, run = estate.collected("cancel")

    finished = estate("runs", "cancel", str(run["id"]))
    assert finished.exit_code == 2
    assert "only pending or running runs can be canceled" in words(finished)

    big = estate.provider(
        "big", "-c", "clusters=1", "-c", "hosts_per_cluster=1", "-c", "vms_per_host=100000"
    )
    started = estate.json("provider", "collect", str(big))
    canceled = estate.json("runs", "cancel", str(started["id"]))
    assert canceled["id"] == started["id"]
    ended = estate("runs", "wait", str(started["id"]), "-o", "json")
    assert ended.exit_code == 1
    assert json.loads(ended.stdout)["status"] == "canceled"
