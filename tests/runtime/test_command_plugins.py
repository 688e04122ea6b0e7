"""Plugins that are programs of their own: the Node.js example, run by the real host.

A manifest's ``runtime: {command: [...]}`` replaces ``python -m inventory_providers``:
the host starts ``command + [verb, ...]`` with Digital Rebar's verbs (``define``,
``serve``, ``unpack``) and speaks the same wire protocol to it. Everything here runs
real ``node`` child processes.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from estate.config import Settings
from estate.registry.errors import InvalidPackage
from estate.registry.install import define
from estate.registry.manifest import parse_manifest
from estate.runtime.environments import PluginEnvironment, for_manifest
from estate.runtime.errors import PluginCallError, PluginStartError
from estate.runtime.host import PluginProcess
from estate.runtime.protocol import LineReader, request
from factories import fixture_plugin

REPO = Path(__file__).resolve().parents[2]
NODE_PLUGIN = REPO / "plugins" / "example" / "nodejs"
SIMULATED = REPO / "plugins" / "simulated" / "datacenter"
NODE_COMMAND = ("node", "plugin.js")
DEFINE_KEYS = {
    "key",
    "vendor",
    "provider_type",
    "display_name",
    "supported_resource_types",
    "class_name",
    "class_path",
}


def node_environment(folder: Path = NODE_PLUGIN, **options: Any) -> PluginEnvironment:
    return PluginEnvironment(plugin_dir=folder, command=NODE_COMMAND, **options)


class Run:
    """What a started node plugin reported: log lines and collected batches."""

    def __init__(self, process: PluginProcess, logs: list[tuple[str, str]]) -> None:
        self.process = process
        self.logs = logs
        self.batches: list[list[dict[str, Any]]] = []

    def configure(self, **extra: Any) -> Any:
        credential = {"hostname": "node.example", "extra": extra}
        return self.process.call("configure", {"provider": {"name": "N"}, "credential": credential})

    def collect(self, batch_size: int = 1000, on_batch: Any = None) -> Any:
        def notified(method: str, params: dict[str, Any]) -> None:
            assert method == "collect.batch"
            self.batches.append([json.loads(bytes(r)) for r in params["resources"]])
            if on_batch is not None:
                on_batch()

        return self.process.call("collect", {"batch_size": batch_size}, on_notification=notified)

    def resources(self) -> list[dict[str, Any]]:
        return [resource for batch in self.batches for resource in batch]


@contextmanager
def running(environment: PluginEnvironment | None = None, **options: Any) -> Iterator[Run]:
    logs: list[tuple[str, str]] = []
    process = PluginProcess(
        environment or node_environment(),
        "command",
        on_log=lambda level, line: logs.append((level, line)),
        **options,
    )
    with process:
        yield Run(process, logs)


def run_json(argv: list[str], cwd: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=30, check=False)
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, answer


# -- the verbs -------------------------------------------------------------------------


def test_argv_is_the_command_then_the_verb() -> None:
    environment = for_manifest(NODE_PLUGIN, {"runtime": {"command": ["node", "plugin.js"]}})

    argv = environment.argv("serve", "--fd", "5")

    assert argv == [
        shutil.which("node"),
        "plugin.js",
        "serve",
        "--fd",
        "5",
        "--plugin-dir",
        str(NODE_PLUGIN),
    ]
    assert environment.command == NODE_COMMAND
    assert for_manifest(NODE_PLUGIN, {"vendor": "x"}).command is None


def test_a_relative_executable_resolves_inside_the_plugin_folder(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "run").write_text("#!/bin/sh\n")

    environment = for_manifest(tmp_path, {"runtime": {"command": ["bin/run", "--quiet"]}})

    assert environment.argv("define") == [
        str(tmp_path / "bin" / "run"),
        "--quiet",
        "define",
        "--plugin-dir",
        str(tmp_path),
    ]


def test_define_answers_in_the_sdk_shape() -> None:
    code, answer = run_json(node_environment().argv("define"), NODE_PLUGIN)
    sdk_code, sdk_answer = run_json(PluginEnvironment(SIMULATED).argv("define"), SIMULATED)

    assert code == sdk_code == 0
    assert answer["ok"] is sdk_answer["ok"] is True
    assert answer["protocol_versions"] == sdk_answer["protocol_versions"] == [1]
    [provider] = answer["providers"]
    assert set(provider) >= DEFINE_KEYS
    assert set(sdk_answer["providers"][0]) >= DEFINE_KEYS
    assert provider["key"] == "example:nodejs"
    assert provider["class_path"] == "command"
    assert provider["supported_resource_types"] == ["virtual_machine", "hypervisor_host"]


def test_registry_define_runs_the_command_the_manifest_names() -> None:
    manifest = parse_manifest((NODE_PLUGIN / "manifest.yml").read_bytes())

    # As the managed-plugin registration calls it: an environment without a command.
    defined = define(PluginEnvironment(NODE_PLUGIN), manifest, Settings())

    assert defined.class_path == "command"
    assert defined.metadata["key"] == "example:nodejs"


def test_registry_define_names_a_missing_command(tmp_path: Path) -> None:
    shutil.copytree(NODE_PLUGIN, tmp_path / "plugin")
    text = (tmp_path / "plugin" / "manifest.yml").read_text()
    (tmp_path / "plugin" / "manifest.yml").write_text(text.replace('["node"', '["nodex"'))
    manifest = parse_manifest((tmp_path / "plugin" / "manifest.yml").read_bytes())

    with pytest.raises(InvalidPackage, match=r"runtime\.command: 'nodex' not found on PATH"):
        define(PluginEnvironment(tmp_path / "plugin"), manifest, Settings())


def test_sdk_unpack_copies_the_plugin_files_without_pycache(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "provider.cpython-311.pyc").write_bytes(b"\0")
    (folder / "data").mkdir()
    (folder / "data" / "types.json").write_text("{}")
    dest = tmp_path / "out" / "unpacked"

    argv = [sys.executable, "-m", "inventory_providers", "unpack", str(dest)]
    code, answer = run_json([*argv, "--plugin-dir", str(folder)], tmp_path)

    assert (code, answer) == (0, {"ok": True, "files": 4})
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == ["__init__.py", "data/types.json", "manifest.yml", "provider.py"]
    assert (dest / "provider.py").read_text() == (folder / "provider.py").read_text()


def test_sdk_unpack_refuses_a_folder_inside_the_plugin(tmp_path: Path) -> None:
    folder = fixture_plugin("counted_vms", tmp_path / "plugin")

    argv = [sys.executable, "-m", "inventory_providers", "unpack", "inside"]
    code, answer = run_json(argv, folder)

    assert code == 1
    assert answer == {"ok": False, "error": "inside is inside the plugin folder"}
    assert not (folder / "inside").exists()


def test_node_unpack_copies_its_files(tmp_path: Path) -> None:
    dest = tmp_path / "unpacked"

    code, answer = run_json(node_environment().argv("unpack", str(dest)), NODE_PLUGIN)

    assert (code, answer) == (0, {"ok": True, "files": 2})
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.yml", "plugin.js"]


# -- serving ---------------------------------------------------------------------------


def test_handshake_names_the_plugin_and_a_clean_stop_exits_0() -> None:
    with running() as run:
        info = run.process.info
        health = run.process.call("health", {})
        child = run.process.process

    assert info["protocol_version"] == 1
    assert info["plugin"]["key"] == "example:nodejs"
    assert info["plugin"]["class_path"] == "command"
    assert info["capabilities"] == {
        "collect": True,
        "validate": True,
        "health": True,
        "cancel": True,
    }
    assert "node" in info["sdk_version"]
    assert health["status"] == "ok"
    assert child is not None and child.returncode == 0


def test_collect_streams_batches_with_runs_on_relationships() -> None:
    with running() as run:
        run.configure(hosts=3, vms_per_host=4)
        validated = run.process.call("validate", {})
        result = run.collect(batch_size=4)

    assert validated == {"ok": True, "message": "3 host(s) with 4 VM(s) each"}
    assert result == {"count": 15, "rejected": []}
    assert [len(batch) for batch in run.batches] == [4, 4, 4, 3]
    resources = run.resources()
    hosts = [r for r in resources if r["resource_type_slug"] == "hypervisor_host"]
    vms = [r for r in resources if r["resource_type_slug"] == "virtual_machine"]
    assert [h["ems_ref"] for h in hosts] == ["host-0", "host-1", "host-2"]
    assert len(vms) == 12
    assert vms[5]["ems_ref"] == "vm-1-1"
    assert vms[5]["relationships"] == [{"target_ems_ref": "host-1", "relationship_type": "runs_on"}]


def test_defaults_apply_when_the_config_leaves_them_out() -> None:
    with running() as run:
        run.configure()
        result = run.collect()

    assert result["count"] == 2 + 2 * 3
    assert len(run.batches) == 1


def test_a_large_collection_streams_while_the_host_is_slow() -> None:
    # The plugin waits for the socket to drain instead of buffering: a slow consumer
    # still gets every batch, in order.
    with running() as run:
        run.configure(hosts=20, vms_per_host=1000)
        result = run.collect(batch_size=1000, on_batch=lambda: time.sleep(0.01))

    assert result["count"] == 20_020
    assert len(run.batches) == 21
    refs = [r["ems_ref"] for r in run.resources()]
    assert len(set(refs)) == 20_020
    assert refs[-1] == "vm-19-999"


def test_cancel_stops_a_node_collection_and_the_plugin_stays_usable() -> None:
    with running() as run:
        run.configure(hosts=1000, vms_per_host=1000)
        asked: list[float] = []

        def cancel_after_two_batches() -> None:
            if len(run.batches) == 2:
                asked.append(time.monotonic())
                assert run.process.cancel(grace=10) is True

        with pytest.raises(PluginCallError) as canceled:
            run.collect(batch_size=100, on_batch=cancel_after_two_batches)
        assert canceled.value.kind == "canceled", canceled.value
        assert time.monotonic() - asked[0] < 2
        assert len(run.batches) < 1000
        assert run.process.call("health", {})["status"] == "ok"


def test_log_notifications_and_stdout_reach_the_log_not_the_channel() -> None:
    with running() as run:
        run.configure(hosts=1, vms_per_host=1)
        run.collect()
        after = run.process.call("health", {})

    assert after["status"] == "ok"
    assert ("info", 'configured provider "N"') in run.logs
    assert ("info", "collecting 2 resources") in run.logs
    printed = [line for level, line in run.logs if line.startswith("plugin.js:")]
    assert printed == [
        f"plugin.js: serving on fd {printed[0].split()[-1]}",
        "plugin.js: collecting 1 host(s) x 1 VM(s) from node.example",
    ]
    assert all(level == "info" for level, line in run.logs if line.startswith("plugin.js:"))


def test_log_level_filters_the_log_notifications() -> None:
    with running(log_level="warning") as run:
        run.configure(hosts=1, vms_per_host=1)
        run.collect()

    # Only what the program printed on stdout is left: its log notifications were info.
    assert [line for _, line in run.logs if not line.startswith("plugin.js:")] == []


def test_bad_config_is_invalid_config_and_the_plugin_stays_usable() -> None:
    with running() as run:
        with pytest.raises(PluginCallError, match="hosts: must be a non-negative integer") as bad:
            run.configure(hosts=-1)
        with pytest.raises(PluginCallError, match="configure must come before") as early:
            run.process.call("collect", {})
        with pytest.raises(PluginCallError, match="unknown method") as unknown:
            run.process.call("no.such.method", {})
        assert run.process.call("health", {})["status"] == "ok"

    assert bad.value.kind == "invalid_config"
    assert early.value.kind == "protocol"
    assert unknown.value.kind == "unsupported"


def test_protocol_mismatch_names_both_versions() -> None:
    host, child = socket.socketpair()
    argv = node_environment().argv("serve", "--fd", str(child.fileno()))
    with host:
        with child:
            process = subprocess.Popen(
                argv, pass_fds=[child.fileno()], cwd=NODE_PLUGIN, stdout=subprocess.DEVNULL
            )
        try:
            host.sendall(request(1, "initialize", {"protocol_versions": [99]}))
            answer = LineReader(host).read(time.monotonic() + 30)
        finally:
            host.shutdown(socket.SHUT_RDWR)
            process.wait(timeout=10)

    assert answer["id"] == 1
    assert answer["error"]["message"] == "protocol mismatch: host speaks [99], plugin speaks [1]"
    assert answer["error"]["data"]["kind"] == "protocol"
    assert process.returncode == 0, "the program exits when the host closes the channel"


def test_garbage_from_the_host_is_answered_with_a_parse_error() -> None:
    host, child = socket.socketpair()
    argv = node_environment().argv("serve", "--fd", str(child.fileno()))
    with host:
        with child:
            process = subprocess.Popen(
                argv, pass_fds=[child.fileno()], cwd=NODE_PLUGIN, stdout=subprocess.DEVNULL
            )
        try:
            host.sendall(b"not json\n" + request(2, "health", {}))
            reader = LineReader(host)
            garbage = reader.read(time.monotonic() + 30)
            health = reader.read(time.monotonic() + 30)
        finally:
            host.shutdown(socket.SHUT_RDWR)
            process.wait(timeout=10)

    assert garbage["id"] is None
    assert garbage["error"]["data"]["kind"] == "protocol"
    assert health["result"]["status"] == "ok"


# -- start-up failures -----------------------------------------------------------------


def test_missing_executable_fails_the_start_naming_it() -> None:
    environment = PluginEnvironment(NODE_PLUGIN, command=("nodex", "plugin.js"))
    process = PluginProcess(environment, "command")

    with pytest.raises(PluginStartError, match=r"runtime\.command: 'nodex' not found on PATH") as e:
        process.start()
    process.stop()  # nothing was started; nothing to stop

    assert e.value.kind == "invalid_plugin"
    assert process.process is None


def test_missing_program_in_the_plugin_folder_fails_the_start(tmp_path: Path) -> None:
    environment = PluginEnvironment(tmp_path, command=("bin/plugin", "--x"))

    with pytest.raises(PluginStartError, match="'bin/plugin' not found in the plugin folder"):
        PluginProcess(environment, "command").start()


def test_a_program_that_exits_before_the_handshake_fails_the_start(tmp_path: Path) -> None:
    environment = PluginEnvironment(tmp_path, command=("node", "no-such-script.js"))
    process = PluginProcess(environment, "command", start_timeout=20)

    with pytest.raises(PluginStartError, match="exit code 1"):
        process.start()
