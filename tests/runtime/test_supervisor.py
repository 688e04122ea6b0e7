"""The supervisor, driven directly: real plugin folders, real child processes, no database."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estate.runtime.environments import PluginEnvironment
from estate.runtime.errors import PluginCallError, PluginExited, PluginTimeout
from estate.runtime.host import PluginProcess
from estate.runtime.supervisor import (
    PluginUnavailable,
    ProcessSpec,
    Supervisor,
    SupervisorPolicy,
)
from factories import (
    TEST_CLASS_PATH,
    fixture_plugin,
    host_pid,
    is_alive,
    plugin_pid,
    provider_plugin,
)

CONFIGURE = {"provider": {"id": 7, "name": "p"}, "credential": {"hostname": "h", "extra": {}}}
FAST = SupervisorPolicy(
    start_timeout=20,
    call_timeout=10,
    health_interval=3600,  # passes are driven by the tests with check()
    health_timeout=0.5,
    idle_timeout=3600,
    backoff_base=0.05,
    backoff_max=0.2,
    breaker_failures=3,
    breaker_window=60,
    breaker_cooldown=60,
    cancel_grace=0.5,
)


def spec(folder: Path, fingerprint: str = "v1", **overrides: Any) -> ProcessSpec:
    values: dict[str, Any] = {
        "label": "test:plugin for provider 7",
        "plugin_key": "test:plugin",
        "environment": PluginEnvironment(plugin_dir=folder),
        "class_path": TEST_CLASS_PATH,
        "fingerprint": fingerprint,
        "configure": CONFIGURE,
    }
    values.update(overrides)
    return ProcessSpec(**values)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    sup = Supervisor(FAST)
    yield sup
    sup.close()


def alive(pid: int) -> bool:
    return is_alive(pid)


def only_pid(sup: Supervisor) -> int:
    pids = sup.pids()
    assert len(pids) == 1, pids
    return pids[0]


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_one_process_serves_many_calls_and_a_new_fingerprint_replaces_it(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "p")
    first = supervisor.call("provider:7", spec(folder), "validate", {})
    assert first == {"ok": True, "message": "connected"}
    pid = only_pid(supervisor)
    for _ in range(5):
        supervisor.call("provider:7", spec(folder), "health", {})
    assert only_pid(supervisor) == pid

    supervisor.call("provider:7", spec(folder, fingerprint="v2"), "validate", {})
    new_pid = only_pid(supervisor)
    assert new_pid != pid
    assert not alive(pid)
    [status] = supervisor.status()
    assert status["state"] == "running"
    assert status["starts"] == 2 and status["restarts"] == 1


def test_a_plugin_error_keeps_the_process_and_is_not_a_crash(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("refuses_validation", tmp_path / "p")
    with pytest.raises(PluginCallError, match="login refused"):
        supervisor.call("k", spec(folder), "validate", {})
    pid = only_pid(supervisor)
    with pytest.raises(PluginCallError):
        supervisor.call("k", spec(folder), "validate", {})
    assert only_pid(supervisor) == pid
    [status] = supervisor.status()
    assert status["recent_crashes"] == 0 and status["state"] == "running"


def test_a_killed_process_is_restarted_with_backoff_by_the_health_pass(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "p")
    supervisor.call("k", spec(folder), "health", {})
    pid = only_pid(supervisor)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid))

    supervisor.check()  # notices the exit: a crash, restart scheduled
    [status] = supervisor.status()
    assert status["state"] == "backoff"
    # Seen as an exit, or as a lost connection if the ping came first.
    assert "SIGKILL" in status["last_error"]
    assert 0 < status["retry_in"] <= FAST.backoff_base

    time.sleep(FAST.backoff_base)
    supervisor.check()  # backoff over: restarted eagerly, without a call
    new_pid = only_pid(supervisor)
    assert new_pid != pid and alive(new_pid)
    [status] = supervisor.status()
    assert status["state"] == "running" and status["restarts"] == 1
    supervisor.check()  # a healthy ping clears the consecutive count
    assert supervisor.status()[0]["health_ms"] is not None


def test_a_hung_process_fails_its_health_ping_and_is_replaced(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "p")
    supervisor.call("k", spec(folder), "health", {})
    pid = only_pid(supervisor)
    os.kill(plugin_pid(pid), signal.SIGSTOP)  # alive, but answers nothing
    started = time.monotonic()
    supervisor.check()
    assert time.monotonic() - started < FAST.health_timeout + 3
    assert not alive(pid), "the hung process must be killed"
    [status] = supervisor.status()
    assert "health check failed" in status["last_error"]
    # The next call waits out the short backoff and gets a fresh process.
    assert supervisor.call("k", spec(folder), "validate", {})["ok"] is True
    assert only_pid(supervisor) != pid


def test_a_crash_loop_opens_the_breaker_until_the_fingerprint_changes(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    # Deliberately broken, so written here: it dies before it can answer anything.
    crashing = provider_plugin(
        tmp_path / "crash",
        """
        def __init__(self, *args, **kwargs):
            import os
            os._exit(3)
        """,
    )
    for _ in range(FAST.breaker_failures):
        with pytest.raises(PluginExited, match="exit code 3"):
            supervisor.call("k", spec(crashing), "validate", {})
        time.sleep(FAST.backoff_max)
    with pytest.raises(PluginUnavailable, match="crashed 3 times") as refused:
        supervisor.call("k", spec(crashing), "validate", {})
    assert "upload a fixed version" in str(refused.value)
    [status] = supervisor.status()
    assert status["state"] == "broken" and status["breaker_open_for"] > 50
    assert supervisor.pids() == []
    supervisor.check()  # the breaker also stops eager restarts
    assert supervisor.pids() == []

    fixed = fixture_plugin("counted_vms", tmp_path / "fixed")
    answer = supervisor.call("k", spec(fixed, fingerprint="v2"), "validate", {})
    assert answer["ok"] is True
    assert supervisor.status()[0]["state"] == "running"


def test_a_call_that_hangs_times_out_and_counts_as_a_crash(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("hangs_on_validate", tmp_path / "p")
    with pytest.raises(PluginTimeout):
        supervisor.call("k", spec(folder), "validate", {}, timeout=0.5)
    [status] = supervisor.status()
    assert status["recent_crashes"] == 1 and status["pid"] is None


def test_idle_processes_are_stopped_and_start_again_on_demand(tmp_path: Path) -> None:
    sup = Supervisor(
        SupervisorPolicy(**{**FAST.__dict__, "idle_timeout": 0.2}),
    )
    try:
        folder = fixture_plugin("counted_vms", tmp_path / "p")
        sup.call("k", spec(folder), "health", {})
        pid = only_pid(sup)
        time.sleep(0.3)
        sup.check()
        assert sup.pids() == [] and not alive(pid)
        assert sup.status()[0]["state"] == "stopped"
        sup.call("k", spec(folder), "health", {})
        assert only_pid(sup) != pid
    finally:
        sup.close()


def test_close_kills_every_process_group_with_its_children(tmp_path: Path) -> None:
    folder = fixture_plugin("spawns_on_validate", tmp_path / "p")
    sup = Supervisor(FAST)
    grandchildren = []
    for key in ("a", "b"):
        answer = sup.call(key, spec(folder), "validate", {})
        root = sup.status()[-1]["pid"]
        grandchildren.append(host_pid(int(answer["message"]), root))
    pids = sup.pids()
    assert len(pids) == 2
    assert all(alive(pid) for pid in pids + grandchildren)
    sup.close()
    assert not any(alive(pid) for pid in pids)
    # The grandchildren got SIGKILL with their group; the kernel takes a moment.
    wait_until(lambda: not any(alive(pid) for pid in grandchildren), timeout=5)
    assert sup.pids() == []


def test_secrets_are_masked_in_the_process_log_and_errors(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("leaks_password_and_exits", tmp_path / "p")
    secret = "hunter2-secret"
    configure = {**CONFIGURE, "credential": {"hostname": "h", "password": secret}}
    with pytest.raises(PluginExited):
        supervisor.call("k", spec(folder, configure=configure, secrets=(secret,)), "validate", {})
    [status] = supervisor.status()
    text = " ".join(line["message"] for line in status["log"]) + str(status["last_error"])
    assert "password is ***" in text
    assert secret not in text


# -- cancellation on the wire ------------------------------------------------------------


def collect_in_thread(process: PluginProcess) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {"batches": 0}

    def notified(method: str, params: dict[str, Any]) -> None:
        outcome["batches"] += method == "collect.batch"

    def run() -> None:
        try:
            outcome["result"] = process.call(
                "collect", {"batch_size": 5}, timeout=60, on_notification=notified
            )
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_cancel_stops_a_collection_and_the_process_stays_usable(tmp_path: Path) -> None:
    folder = fixture_plugin("slow_collect", tmp_path / "p")
    with PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH) as process:
        process.call("configure", CONFIGURE)
        thread, outcome = collect_in_thread(process)
        wait_until(lambda: outcome["batches"] >= 2)
        asked = time.monotonic()
        assert process.cancel(grace=10) is True
        thread.join(15)
        assert time.monotonic() - asked < 2, "the plugin stops between two resources"
        error = outcome["error"]
        assert isinstance(error, PluginCallError) and error.kind == "canceled", error
        # Canceled, not killed: the same process answers the next call.
        assert process.call("health", {})["status"] == "ok"
        assert process.cancel() is False  # nothing in flight


def test_a_plugin_that_ignores_cancel_is_killed_after_the_grace(tmp_path: Path) -> None:
    folder = fixture_plugin("hangs_on_cancel", tmp_path / "p")
    with PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH) as process:
        process.call("configure", CONFIGURE)
        thread, outcome = collect_in_thread(process)
        time.sleep(0.5)
        asked = time.monotonic()
        process.cancel(grace=0.5)
        thread.join(15)
        assert 0.4 < time.monotonic() - asked < 5
        assert isinstance(outcome["error"], PluginExited), outcome
        assert "SIGKILL" in str(outcome["error"])
        assert not process.alive()


def test_a_provider_can_watch_canceled_in_a_long_step(tmp_path: Path) -> None:
    folder = fixture_plugin("watches_canceled", tmp_path / "p")
    with PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH) as process:
        process.call("configure", CONFIGURE)
        thread, outcome = collect_in_thread(process)
        time.sleep(0.3)
        process.cancel(grace=10)
        thread.join(15)
        error = outcome["error"]
        assert isinstance(error, PluginCallError) and error.kind == "canceled", error


# -- actions on the wire -------------------------------------------------------------------


def test_actions_run_in_the_providers_long_lived_process(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("actions", tmp_path / "p")
    events: list[dict[str, Any]] = []

    def notified(method: str, params: dict[str, Any]) -> None:
        if method == "event":
            events.append(params)

    answer = supervisor.call(
        "k",
        spec(folder),
        "action",
        {"name": "power_on", "ems_ref": "vm-1", "params": {"force": True}},
        on_notification=notified,
    )
    assert answer == {"result": {"ems_ref": "vm-1", "power_state": "poweredOn", "force": True}}
    assert [e["type"] for e in events] == ["power.changed"]
    pid = only_pid(supervisor)

    with pytest.raises(PluginCallError, match="has no action 'reboot'") as unknown:
        supervisor.call("k", spec(folder), "action", {"name": "reboot", "ems_ref": "vm-1"})
    assert unknown.value.kind == "unsupported"
    with pytest.raises(PluginCallError, match="name must be a non-empty string") as bad:
        supervisor.call("k", spec(folder), "action", {"name": 3})
    assert bad.value.kind == "protocol"
    assert only_pid(supervisor) == pid  # errors are answers, not crashes


def test_a_long_action_can_be_canceled_without_losing_the_process(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    folder = fixture_plugin("actions", tmp_path / "p")
    supervisor.call("k", spec(folder), "health", {})
    pid = only_pid(supervisor)
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["answer"] = supervisor.call("k", spec(folder), "action", {"name": "wait"})

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    assert supervisor.cancel("k") is True
    thread.join(10)
    # The action noticed ``self.canceled`` and returned; the process lives on.
    assert outcome["answer"] == {"result": "stopped early"}
    assert only_pid(supervisor) == pid


def test_the_handshake_says_whether_a_plugin_has_actions(tmp_path: Path) -> None:
    plain = fixture_plugin("counted_vms", tmp_path / "plain")
    acting = fixture_plugin("actions", tmp_path / "acting")
    for folder, expected in ((plain, False), (acting, True)):
        with PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH) as process:
            assert process.info["capabilities"]["action"] is expected
