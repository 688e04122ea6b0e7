"""``estate action …`` against a real service."""

from __future__ import annotations

from served import Estate, words


def _running_vm(estate: Estate, provider_id: int) -> int:
    listed = estate.json(
        "resources", "list", "--provider", str(provider_id), "--type", "virtual_machine"
    )
    return next(r["id"] for r in listed["results"] if r["state"] == "running")


def test_list_run_wait_and_show(estate: Estate) -> None:
    provider_id, _ = estate.collected("actions")
    vm = _running_vm(estate, provider_id)

    listed = estate.ok("action", "list", str(vm))
    ran = estate.json("action", "run", str(vm), "shutdown", "--param", "timeout=5", "--wait")
    shown = estate.yaml("action", "show", str(ran["id"]))

    assert "power_off" in listed.stdout and "snapshot_revert" in listed.stdout
    assert "no: the virtual machine has no snapshots" in words(listed)
    assert ran["status"] == "completed", ran
    assert ran["parameters"] == {"timeout": 5}
    assert shown["refresh_run"] == ran["refresh_run"]
    assert "running shutdown on vm-" in shown["log"]
    again = estate.ok("action", "run", str(vm), "power_off", "--wait")
    assert f"({'power_off'}) completed" in words(again)


def test_a_bad_parameter_exits_2_naming_it(estate: Estate) -> None:
    provider_id, _ = estate.collected("actions-bad")
    vm = _running_vm(estate, provider_id)

    bad = estate("action", "run", str(vm), "shutdown", "-p", "timeout=soon")
    malformed = estate("action", "run", str(vm), "shutdown", "-p", "timeout")

    assert bad.exit_code == 2
    assert "params.timeout: must be an integer" in words(bad)
    assert malformed.exit_code == 2
    assert "--param: expected KEY=VALUE" in words(malformed)
