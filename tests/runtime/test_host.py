"""The plugin host, driven directly: real plugin folders, real child processes, no database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from estate.runtime.environments import PluginEnvironment
from estate.runtime.errors import (
    PluginCallError,
    PluginExited,
    PluginProtocolError,
    PluginRuntimeError,
    PluginStartError,
    PluginTimeout,
)
from estate.runtime.host import PluginProcess
from estate.runtime.protocol import LineReader, request
from factories import TEST_CLASS_PATH, fixture_plugin, host_pid, provider_plugin

CONFIGURE = {"provider": {"id": 1, "name": "test"}, "credential": {"hostname": "h.example"}}


class Plugin:
    """A started ``PluginProcess`` with everything it reported recorded."""

    def __init__(self, process: PluginProcess, logs: list[tuple[str, str]]) -> None:
        self.process = process
        self.logs = logs
        self.batches: list[list[dict[str, Any]]] = []
        self.notifications: list[str] = []

    def collect(self, *, count: int = 3, batch_size: int = 10, **call: Any) -> Any:
        params = {**CONFIGURE, "credential": {"hostname": "h", "extra": {"count": count}}}
        self.process.call("configure", params)
        return self.process.call(
            "collect", {"batch_size": batch_size}, on_notification=self._notified, **call
        )

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        self.notifications.append(method)
        if method == "collect.batch":
            self.batches.append([as_dict(resource) for resource in params["resources"]])

    def log_lines(self) -> list[str]:
        return [line for _, line in self.logs]


@contextmanager
def running(folder: Path, **options: Any) -> Iterator[Plugin]:
    logs: list[tuple[str, str]] = []
    process = PluginProcess(
        PluginEnvironment(plugin_dir=folder),
        options.pop("class_path", TEST_CLASS_PATH),
        on_log=lambda level, line: logs.append((level, line)),
        **options,
    )
    with process:
        yield Plugin(process, logs)


def as_dict(resource: Any) -> dict[str, Any]:
    """A batch's resource; the host may hand it over as raw JSON bytes for ingest."""
    if isinstance(resource, dict):
        return resource
    decoded: dict[str, Any] = json.loads(bytes(resource))
    return decoded


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (zombies count as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid``, found by walking /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


# -- handshake and collection ----------------------------------------------------------


def test_handshake_names_the_plugin_and_the_protocol_version(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    with running(folder) as plugin:
        info = plugin.process.info
        child = plugin.process.process
        assert child is not None
        assert child.poll() is None

    assert info["protocol_version"] == 1
    assert info["plugin"]["key"] == "test:plugin"
    assert info["plugin"]["class_path"] == "provider.TestProvider"
    assert info["plugin"]["supported_resource_types"] == ["virtual_machine"]
    assert info["capabilities"]["collect"] is True
    assert child.returncode == 0, "a clean shutdown exits 0"


def test_collect_streams_batches_then_answers_with_the_count(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    with running(folder) as plugin:
        result = plugin.collect(count=35, batch_size=10)

    assert [len(batch) for batch in plugin.batches] == [10, 10, 10, 5]
    assert result == {"count": 35, "rejected": [], "incomplete": []}
    refs = [r["ems_ref"] for batch in plugin.batches for r in batch]
    assert refs == [f"vm-{i}" for i in range(35)]
    assert plugin.batches[0][0] == {
        "ems_ref": "vm-0",
        "resource_type_slug": "virtual_machine",
        "state": "unknown",
    }


def test_one_process_answers_several_calls(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    with running(folder) as plugin:
        health = plugin.process.call("health", {})
        first = plugin.collect(count=2)
        second = plugin.collect(count=4)

    assert health["status"] == "ok"
    assert first["count"] == 2
    assert second["count"] == 4
    assert [len(batch) for batch in plugin.batches] == [2, 4]


def test_credential_reaches_the_plugin(tmp_path: Path) -> None:
    folder = fixture_plugin("echoes_credential", tmp_path / "plugin")
    credential = {"hostname": "vc.local", "username": "u", "port": "8443", "extra": {"dc": "x"}}

    with running(folder) as plugin:
        plugin.process.call("configure", {"provider": {"name": "P"}, "credential": credential})
        plugin.process.call("collect", {}, on_notification=plugin._notified)

    [[resource]] = plugin.batches
    assert resource["properties"] == {
        "hostname": "vc.local",
        "username": "u",
        "port": 8443,
        "extra": {"dc": "x"},
        "provider": "P",
    }


# -- the plugin's output ---------------------------------------------------------------


def test_logging_and_prints_reach_the_log_and_never_the_channel(tmp_path: Path) -> None:
    folder = fixture_plugin("logs_and_prints", tmp_path / "plugin")

    with running(folder) as plugin:
        result = plugin.collect()
        after = plugin.process.call("health", {})

    assert result == {"count": 2, "rejected": [], "incomplete": []}
    assert after["status"] == "ok"
    assert plugin.notifications == ["collect.batch"]
    assert ("info", "collecting from h") in plugin.logs
    assert ("warning", "careful") in plugin.logs
    assert ("info", "plain print") in plugin.logs
    assert ("info", '{"jsonrpc": "2.0", "id": 2, "result": {"count": 999}}') in plugin.logs
    assert ("info", "after the first yield") in plugin.logs
    assert ("warning", "to stderr") in plugin.logs
    assert ("info", "no newline at the end") in plugin.logs


def test_log_level_filters_the_plugin_logger(tmp_path: Path) -> None:
    folder = fixture_plugin("logs_each_level", tmp_path / "plugin")

    with running(folder, log_level="warning") as plugin:
        plugin.collect()

    assert plugin.logs == [("error", "error line")]


# -- failures --------------------------------------------------------------------------


def test_crash_mid_collection_is_plugin_exited_with_the_exit_code(tmp_path: Path) -> None:
    folder = fixture_plugin("crashes_mid_collect", tmp_path / "plugin")

    with running(folder) as plugin:
        with pytest.raises(PluginExited, match="exit code 3") as caught:
            plugin.collect(batch_size=10)
        plugin.process.stop()  # already exited: stopping is a no-op, not an error
        plugin.process.stop()

    assert caught.value.kind == "crashed"
    assert [len(batch) for batch in plugin.batches] == [10, 10]
    child = plugin.process.process
    assert child is not None and child.returncode == 3


def test_killed_plugin_names_the_signal(tmp_path: Path) -> None:
    folder = fixture_plugin("kills_itself", tmp_path / "plugin")

    with running(folder) as plugin, pytest.raises(PluginExited, match="SIGKILL"):
        plugin.collect()


def test_hang_times_out_and_kills_the_whole_process_group(tmp_path: Path) -> None:
    folder = fixture_plugin("hangs_with_a_grandchild", tmp_path / "plugin")
    seen: dict[str, Any] = {}

    def on_log(level: str, line: str) -> None:
        if line.startswith("sleeper "):
            pid = host_pid(int(line.split()[1]), process.process.pid)  # type: ignore[union-attr]
            seen["sleeper"] = pid
            # vfork lets Popen return while exec still fills in the arguments.
            wait_until(lambda: cmdline(pid))
            seen["cmdline"] = cmdline(pid)
            seen["group"] = group_members(process.process.pid)  # type: ignore[union-attr]

    process = PluginProcess(
        PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH, on_log=on_log, call_timeout=1
    )
    with process:
        plugin_pid = process.process.pid  # type: ignore[union-attr]
        process.call("configure", CONFIGURE)
        started = time.monotonic()
        with pytest.raises(PluginTimeout) as caught:
            process.call("collect", {})
        elapsed = time.monotonic() - started

    assert "did not answer 'collect' within 1s" in str(caught.value)
    assert caught.value.kind == "timeout"
    assert 0.9 < elapsed < 10
    # While it ran, the grandchild was a member of the plugin's own process group (with
    # the sandbox launcher, the namespace's init and the plugin).
    assert seen["cmdline"] == ["sleep", "1000"]
    assert {plugin_pid, seen["sleeper"]} <= set(seen["group"])
    assert len(seen["group"]) == 4
    # After stop() nothing of that group is left: not the plugin, not the grandchild.
    assert wait_until(lambda: not group_members(plugin_pid)), group_members(plugin_pid)
    assert not alive(seen["sleeper"])
    assert not alive(plugin_pid)


def test_stop_kills_a_grandchild_of_a_healthy_plugin(tmp_path: Path) -> None:
    folder = fixture_plugin("spawns_a_grandchild", tmp_path / "plugin")

    with running(folder) as plugin:
        plugin.collect()
        plugin_pid = plugin.process.process.pid  # type: ignore[union-attr]
        [sleeper] = [
            host_pid(int(line.split()[1]), plugin_pid)
            for line in plugin.log_lines()
            if "sleeper" in line
        ]
        assert alive(sleeper)

    assert wait_until(lambda: not group_members(plugin_pid)), group_members(plugin_pid)
    assert not alive(sleeper)


def test_garbage_on_the_socket_is_a_protocol_error(tmp_path: Path) -> None:
    # Deliberately broken, so written here: it writes to the host's socket behind the SDK.
    folder = provider_plugin(
        tmp_path / "plugin",
        """
        def connect(self):
            import os, sys
            fd = int(sys.argv[sys.argv.index("--fd") + 1])
            os.write(fd, b"not json\\n")
        """,
    )

    with running(folder) as plugin:
        with pytest.raises(PluginProtocolError, match="not JSON") as caught:
            plugin.collect()
        # The channel cannot be trusted any more: later calls fail at once.
        with pytest.raises(PluginRuntimeError):
            plugin.process.call("health", {}, timeout=5)
        started = time.monotonic()
        plugin.process.stop()
        assert time.monotonic() - started < 1.5, "a broken channel is not asked to shut down"

    assert "'not json'" in str(caught.value)
    assert caught.value.kind == "protocol"


def test_a_json_line_that_is_not_json_rpc_is_a_protocol_error(tmp_path: Path) -> None:
    # Deliberately broken, so written here: it writes to the host's socket behind the SDK.
    folder = provider_plugin(
        tmp_path / "plugin",
        """
        def connect(self):
            import os, sys
            fd = int(sys.argv[sys.argv.index("--fd") + 1])
            os.write(fd, b'[1, 2, 3]\\n')
        """,
    )

    with running(folder) as plugin, pytest.raises(PluginProtocolError, match=r"JSON-RPC 2\.0"):
        plugin.collect()


def test_an_error_raised_by_the_notification_handler_stops_the_call(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    def refuse(method: str, params: dict[str, Any]) -> None:
        raise ValueError("ingest refused the batch")

    with running(folder) as plugin:
        plugin.process.call("configure", CONFIGURE)
        with pytest.raises(ValueError, match="ingest refused"):
            plugin.process.call("collect", {"batch_size": 1}, on_notification=refuse)
        started = time.monotonic()
        plugin.process.stop()
        assert time.monotonic() - started < 1.5


def test_oversized_line_without_newline_is_a_protocol_error() -> None:
    host, child = socket.socketpair()
    with host, child:
        reader = LineReader(host, max_line=1024)
        child.sendall(b'{"jsonrpc": "2.0", "method": "log", "params": {"message": "' + b"x" * 4096)
        with pytest.raises(PluginProtocolError, match="over 1024 bytes without a newline"):
            reader.read(time.monotonic() + 5)


def test_oversized_complete_line_is_a_protocol_error() -> None:
    host, child = socket.socketpair()
    with host, child:
        reader = LineReader(host, max_line=1024)
        child.sendall(b'{"jsonrpc": "2.0", "result": "' + b"x" * 4096 + b'"}\n')
        with pytest.raises(PluginProtocolError, match="over 1024 bytes"):
            reader.read(time.monotonic() + 5)


def test_line_reader_splits_messages_across_reads() -> None:
    host, child = socket.socketpair()
    with host, child:
        reader = LineReader(host, max_line=1024)
        child.sendall(b'{"jsonrpc": "2.0", "id": 1, "result": 1}\n{"jsonrpc": "2.0", "id"')
        assert reader.read(time.monotonic() + 5)["result"] == 1
        child.sendall(b': 2, "result": 2}\n')
        assert reader.read(time.monotonic() + 5)["id"] == 2
        with pytest.raises(PluginTimeout):
            reader.read(time.monotonic() + 0.05)
        child.close()
        with pytest.raises(PluginExited, match="closed the connection"):
            reader.read(time.monotonic() + 5)


def test_provider_error_keeps_its_kind(tmp_path: Path) -> None:
    folder = fixture_plugin("refuses_login", tmp_path / "plugin")

    with running(folder) as plugin:
        with pytest.raises(PluginCallError) as caught:
            plugin.collect()
        # An error answer leaves the plugin usable.
        assert plugin.process.call("health", {})["status"] == "ok"

    assert caught.value.kind == "unauthenticated"
    assert "user u was refused" in str(caught.value)


def test_unexpected_exception_in_collect_is_internal(tmp_path: Path) -> None:
    folder = fixture_plugin("raises_in_collect", tmp_path / "plugin")

    with running(folder) as plugin, pytest.raises(PluginCallError, match="KeyError") as caught:
        plugin.collect()

    assert caught.value.kind == "internal"


def test_calls_before_configure_are_refused(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    with running(folder) as plugin:
        with pytest.raises(PluginCallError, match="configure must come before") as caught:
            plugin.process.call("collect", {})
        with pytest.raises(PluginCallError, match="unknown method") as unknown:
            plugin.process.call("no.such.method", {})

    assert caught.value.kind == "protocol"
    assert unknown.value.kind == "unsupported"


# -- start-up failures -----------------------------------------------------------------


def test_import_error_fails_the_start_naming_the_module(tmp_path: Path) -> None:
    # Deliberately broken, so written here: it fails (or never ends) on import.
    folder = provider_plugin(tmp_path / "plugin", header="import estate_no_such_module\n")
    process = PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH)

    with pytest.raises(PluginStartError, match="estate_no_such_module") as caught:
        process.start()

    assert "provider.py, line 1" in str(caught.value)
    assert caught.value.kind == "invalid_plugin"
    assert process.process is not None and process.process.poll() is not None


def test_unknown_class_path_fails_the_start(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")
    process = PluginProcess(PluginEnvironment(plugin_dir=folder), "provider.NoSuchProvider")

    with pytest.raises(PluginStartError, match="'NoSuchProvider'"):
        process.start()


def test_missing_provider_py_fails_the_start(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    process = PluginProcess(PluginEnvironment(plugin_dir=tmp_path / "empty"), TEST_CLASS_PATH)

    with pytest.raises(PluginStartError, match=r"provider\.py is missing"):
        process.start()


def test_missing_python_executable_fails_the_start(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")
    environment = PluginEnvironment(plugin_dir=folder, python="/nonexistent/python")
    process = PluginProcess(environment, TEST_CLASS_PATH)

    with pytest.raises(PluginStartError, match="/nonexistent/python"):
        process.start()
    process.stop()  # nothing was started; nothing to stop


def test_plugin_that_exits_before_the_handshake_fails_the_start(tmp_path: Path) -> None:
    # Deliberately broken, so written here: it fails (or never ends) on import.
    folder = provider_plugin(tmp_path / "plugin", header="import sys\nsys.exit(7)\n")
    process = PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH)

    with pytest.raises(PluginStartError, match="exit code 7"):
        process.start()


def test_plugin_that_blocks_on_import_times_out_at_start(tmp_path: Path) -> None:
    # Deliberately broken, so written here: it fails (or never ends) on import.
    folder = provider_plugin(tmp_path / "plugin", header="import time\ntime.sleep(1000)\n")
    process = PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH, start_timeout=1)

    with pytest.raises(PluginStartError, match="within 1s") as caught:
        process.start()

    assert caught.value.kind == "timeout"
    assert process.process is not None
    assert wait_until(lambda: not group_members(process.process.pid))  # type: ignore[union-attr]


def test_protocol_mismatch_names_both_versions(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")
    host, child = socket.socketpair()
    argv = [sys.executable, "-m", "inventory_providers", "serve", "--fd", str(child.fileno())]
    argv += ["--plugin-dir", str(folder), "--class-path", TEST_CLASS_PATH]
    with host:
        with child:
            process = subprocess.Popen(argv, pass_fds=[child.fileno()], cwd=folder)
        try:
            host.sendall(request(1, "initialize", {"protocol_versions": [99]}))
            answer = LineReader(host).read(time.monotonic() + 30)
        finally:
            host.shutdown(socket.SHUT_RDWR)
            process.wait(timeout=10)

    assert answer["id"] == 1
    assert "[99]" in answer["error"]["message"]
    assert "[1]" in answer["error"]["message"]
    assert answer["error"]["data"]["kind"] == "protocol"


def test_host_refuses_a_plugin_that_picks_a_version_it_does_not_speak(tmp_path: Path) -> None:
    # Any program that speaks the protocol is a plugin: this one answers the handshake
    # with a version the host never offered.
    program = tmp_path / "plugin-program"
    program.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            """
            import json, os, sys
            fd = int(sys.argv[sys.argv.index("--fd") + 1])
            stream = os.fdopen(fd, "r+b", buffering=0)
            request = json.loads(stream.readline())
            answer = {"jsonrpc": "2.0", "id": request["id"],
                      "result": {"protocol_version": 7, "plugin": {"key": "x:y"}}}
            stream.write(json.dumps(answer).encode() + b"\\n")
            stream.readline()
            """
        )
    )
    program.chmod(0o755)
    environment = PluginEnvironment(plugin_dir=tmp_path, python=str(program))
    process = PluginProcess(environment, TEST_CLASS_PATH, start_timeout=10)

    with pytest.raises(PluginStartError, match="protocol") as caught:
        process.start()

    assert "7" in str(caught.value) and "[1]" in str(caught.value)
    assert caught.value.kind == "protocol"


def test_stop_is_safe_before_start_and_twice(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")
    process = PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH)
    process.stop()

    process.start()
    process.stop()
    process.stop()

    assert process.process is not None and process.process.returncode == 0
    with pytest.raises(PluginExited, match="not running"):
        process.call("health", {})


def test_environment_argv_runs_the_sdk_in_the_plugin_folder(tmp_path: Path) -> None:
    environment = PluginEnvironment(plugin_dir=tmp_path, python="/usr/bin/python3")

    assert environment.argv("define") == [
        "/usr/bin/python3",
        "-m",
        "inventory_providers",
        "define",
        "--plugin-dir",
        str(tmp_path),
    ]
