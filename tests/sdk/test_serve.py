"""The plugin side of the wire protocol, driven as the service drives it: real child processes.

``define`` runs as a subprocess and prints JSON; ``serve`` is spoken to over a real
socket pair whose child end the plugin process inherits.
"""

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factories import fixture_plugin
from inventory_providers.loader import find_providers
from wire import Host, serving

SIMULATED = Path(__file__).resolve().parents[2] / "plugins" / "simulated" / "datacenter"
CLASS_PATH = "provider.SimulatedDatacenterProvider"
TIMEOUT = 30.0


def define(plugin_dir: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "inventory_providers", "define", "--plugin-dir", str(plugin_dir)],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def write_plugin(folder: Path, provider_source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provider.py").write_text(provider_source)
    return folder


# -- define --------------------------------------------------------------------------


def test_define_describes_the_simulated_plugin() -> None:
    code, answer = define(SIMULATED)

    assert code == 0
    assert answer["ok"] is True
    assert answer["protocol_versions"] == [1]
    [provider] = answer["providers"]
    assert provider["key"] == "simulated:datacenter"
    assert provider["class_path"] == CLASS_PATH
    assert provider["class_name"] == "SimulatedDatacenterProvider"
    assert "virtual_machine" in provider["supported_resource_types"]


def test_define_names_the_missing_module_and_the_line(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "broken", '"""A plugin."""\n\nimport nonexistent_mod\n')

    code, answer = define(plugin)

    assert code != 0
    assert answer["ok"] is False
    assert "nonexistent_mod" in answer["error"]
    assert "provider.py, line 3" in answer["error"]


def test_define_names_a_syntax_error_and_its_line(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "broken", "import os\ndef collect(:\n    pass\n")

    code, answer = define(plugin)

    assert code != 0
    assert answer["ok"] is False
    assert "SyntaxError" in answer["error"]
    assert "provider.py, line 2" in answer["error"]
    assert answer["error"].count("line 2") == 1, answer["error"]


def test_define_reports_a_folder_without_provider_py(tmp_path: Path) -> None:
    code, answer = define(tmp_path)

    assert code != 0
    assert "provider.py" in answer["error"]


def test_two_plugin_folders_load_side_by_side_in_one_process(tmp_path: Path) -> None:
    first = fixture_plugin("side_by_side_first", tmp_path / "first")
    second = fixture_plugin("side_by_side_second", tmp_path / "second")

    assert [path for path, _ in find_providers(first)] == ["provider.First"]
    assert [path for path, _ in find_providers(second)] == ["provider.Second"]
    assert [path for path, _ in find_providers(first)] == ["provider.First"]


# -- serve ---------------------------------------------------------------------------


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Host]:
    with serving(SIMULATED, CLASS_PATH, tmp_path / "plugin.log") as host:
        yield host


def initialize(host: Host) -> dict[str, Any]:
    reply, _ = host.call("initialize", {"protocol_versions": [1]})
    result: dict[str, Any] = reply["result"]
    return result


def configure(host: Host, **extra: Any) -> None:
    password = extra.pop("password", None)
    credential = {"username": "ops", "password": password, "hostname": "sim", "extra": extra}
    reply, _ = host.call("configure", {"credential": credential, "provider": {"id": 1}})
    assert reply["result"] == {}


def batches(notifications: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [n["params"]["resources"] for n in notifications if n["method"] == "collect.batch"]


def logs(notifications: list[dict[str, Any]]) -> list[str]:
    return [n["params"]["message"] for n in notifications if n["method"] == "log"]


def test_initialize_names_the_plugin_and_the_protocol(plugin: Host) -> None:
    result = initialize(plugin)

    assert result["protocol_version"] == 1
    assert result["plugin"]["key"] == "simulated:datacenter"
    assert result["plugin"]["class_path"] == CLASS_PATH
    assert result["capabilities"]["collect"] is True


def test_collect_streams_batches_logs_and_a_count(plugin: Host) -> None:
    initialize(plugin)
    configure(plugin, clusters=1, hosts_per_cluster=2, vms_per_host=60, datastores=2, networks=1)

    reply, notifications = plugin.call("collect", {"batch_size": 50})

    expected = 1 + 2 + 2 + 1 + 120
    assert reply["result"]["count"] == expected
    assert reply["result"]["rejected"] == []
    sizes = [len(batch) for batch in batches(notifications)]
    assert sizes == [50, 50, expected - 100]
    refs = [resource["ems_ref"] for batch in batches(notifications) for resource in batch]
    assert len(set(refs)) == expected
    assert any(f"collecting {expected} resources" in line for line in logs(notifications))
    assert any(f"collected {expected} resources" in line for line in logs(notifications))


def test_validate_answers_ok(plugin: Host) -> None:
    initialize(plugin)
    configure(plugin, password="simulated")

    reply, _ = plugin.call("validate", {})

    assert reply["result"]["ok"] is True


def test_a_refused_password_is_unauthenticated_and_never_echoed(plugin: Host) -> None:
    initialize(plugin)
    configure(plugin, password="hunter2")

    reply, notifications = plugin.call("collect", {"batch_size": 50})

    assert reply["error"]["data"]["kind"] == "unauthenticated"
    assert batches(notifications) == []
    assert "hunter2" not in json.dumps(reply)
    assert all("hunter2" not in line for line in logs(notifications))


def test_a_bad_parameter_is_invalid_config_naming_it(plugin: Host) -> None:
    initialize(plugin)
    configure(plugin, vms_per_host="many")

    reply, _ = plugin.call("collect", {})

    assert reply["error"]["data"]["kind"] == "invalid_config"
    assert "vms_per_host" in reply["error"]["message"]


def test_a_collection_that_fails_part_way_reports_the_error(plugin: Host) -> None:
    initialize(plugin)
    configure(plugin, resources=500, fail_after=120)

    reply, notifications = plugin.call("collect", {"batch_size": 50})

    assert reply["error"]["data"]["kind"] == "unreachable"
    assert "120" in reply["error"]["message"]
    # Everything yielded before the failure reaches the host, the last batch partial.
    assert [len(batch) for batch in batches(notifications)] == [50, 50, 20]


def test_a_protocol_mismatch_names_both_versions(plugin: Host) -> None:
    reply, _ = plugin.call("initialize", {"protocol_versions": [99]})

    assert reply["error"]["data"]["kind"] == "protocol"
    assert "99" in reply["error"]["message"]
    assert "[1]" in reply["error"]["message"]


def test_collect_before_configure_is_a_protocol_error(plugin: Host) -> None:
    initialize(plugin)

    reply, _ = plugin.call("collect", {})

    assert reply["error"]["data"]["kind"] == "protocol"


def test_an_unknown_method_is_unsupported(plugin: Host) -> None:
    reply, _ = plugin.call("reboot_everything", {})

    assert reply["error"]["code"] == -32601


def test_shutdown_ends_the_process_with_exit_code_0(plugin: Host) -> None:
    initialize(plugin)

    reply, _ = plugin.call("shutdown", {})

    assert reply["result"] == {}
    assert plugin.process.wait(timeout=TIMEOUT) == 0


def test_closing_the_channel_ends_the_process(plugin: Host) -> None:
    initialize(plugin)

    plugin.sock.shutdown(socket.SHUT_RDWR)

    assert plugin.process.wait(timeout=TIMEOUT) == 0


def test_a_plugin_that_cannot_load_answers_the_handshake_with_why(tmp_path: Path) -> None:
    broken = write_plugin(tmp_path / "broken", "import nonexistent_mod\n")

    with serving(broken, "provider.Missing", tmp_path / "plugin.log") as host:
        reply, _ = host.call("initialize", {"protocol_versions": [1]})

        assert "nonexistent_mod" in reply["error"]["message"]
        assert "provider.py, line 1" in reply["error"]["message"]
        assert host.process.wait(timeout=TIMEOUT) != 0


# -- a failing call's traceback --------------------------------------------------------

FAILING = """\
from inventory_providers.base import BaseProvider, ResourceData

from .lookup import host_of


class Failing(BaseProvider):
    vendor = "failing"
    provider_type = "plugin"

    def connect(self):
        pass

    def disconnect(self):
        pass

    def collect(self):
        yield ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine")
        yield ResourceData(ems_ref=host_of(self.credential.extra), resource_type_slug="vm")
"""
LOOKUP = """\
def host_of(extra):
    return extra["host"]
"""


def test_a_failing_call_answers_with_the_plugins_own_frames(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "failing", FAILING)
    (folder / "__init__.py").write_text("")
    (folder / "lookup.py").write_text(LOOKUP)

    with serving(folder, "provider.Failing", tmp_path / "plugin.log") as host:
        initialize(host)
        host.call("configure", {"provider": {}, "credential": {"extra": {}}})
        reply, _ = host.call("collect", {})

    error = reply["error"]
    assert error["message"] == "KeyError: 'host'"
    assert error["data"]["traceback"] == (
        "Traceback (most recent call last):\n"
        '  File "provider.py", line 18, in collect\n'
        "    yield ResourceData(ems_ref=host_of(self.credential.extra), "
        'resource_type_slug="vm")\n'
        '  File "lookup.py", line 2, in host_of\n'
        '    return extra["host"]\n'
        "KeyError: 'host'"
    )


def test_an_error_raised_in_the_sdk_shows_the_plugin_line_that_called_it(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path / "failing", FAILING)
    (folder / "__init__.py").write_text("")
    (folder / "lookup.py").write_text(LOOKUP)

    with serving(folder, "provider.Failing", tmp_path / "plugin.log") as host:
        initialize(host)
        host.call("configure", {"provider": {}, "credential": {"extra": {"host": ""}}})
        reply, _ = host.call("collect", {})

    trace = reply["error"]["data"]["traceback"]
    assert 'File "provider.py", line 18, in collect' in trace
    assert trace.count("File ") == 1  # ResourceData's own frames are the SDK's: left out
    assert trace.endswith(
        "ResourceValidationError: ems_ref: must be a non-empty string, got str ''"
    )
