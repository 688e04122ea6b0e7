"""The ``estate`` command: offline verbs through CliRunner, the REST verbs against a real server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from estate.cli import app
from estate.registry.archive import extract, find_root
from estate.registry.manifest import parse_manifest
from factories import fixture_plugin, plugin_dir

REPO = Path(__file__).resolve().parents[1]
SIMULATED = REPO / "plugins" / "simulated" / "datacenter"
ESTATE = Path(sys.executable).with_name("estate")
PASSWORD = "cli-test-password"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A runner whose Estate settings come from nowhere but the test."""
    for name in list(os.environ):
        if name.startswith("ESTATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ESTATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "500")  # rich would wrap long paths at 80
    return CliRunner()


def text(result: Result) -> str:
    """Everything the command printed, with rich's line wrapping undone."""
    return " ".join(result.output.split())


# -- plugin validate / package -------------------------------------------------------


def test_validate_passes_the_simulated_plugin(cli: CliRunner) -> None:
    result = cli.invoke(app, ["plugin", "validate", str(SIMULATED)])

    assert result.exit_code == 0, result.output
    assert "simulated:datacenter 1.0.0" in text(result)
    assert "provider.SimulatedDatacenterProvider" in text(result)


def test_validate_passes_a_plugin_that_is_a_node_program(cli: CliRunner) -> None:
    result = cli.invoke(app, ["plugin", "validate", str(SIMULATED.parents[1] / "example/nodejs")])

    assert result.exit_code == 0, result.output
    assert "example:nodejs 1.0.0" in text(result)


def test_validate_wants_provider_py_from_a_python_plugin(cli: CliRunner, tmp_path: Path) -> None:
    folder = fixture_plugin("seed", tmp_path / "plugin")
    (folder / "provider.py").unlink()

    result = cli.invoke(app, ["plugin", "validate", str(folder)])

    assert result.exit_code == 1
    assert "provider.py is missing" in text(result)


def test_validate_prints_an_import_error_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    # Deliberately broken, so written here: its one import cannot be found.
    folder = plugin_dir(tmp_path / "broken", provider="import estate_missing_dependency\n")

    result = cli.invoke(app, ["plugin", "validate", str(folder)])

    assert result.exit_code == 1
    assert "estate_missing_dependency" in text(result)
    assert "Traceback" not in result.output


def test_validate_prints_every_manifest_problem(cli: CliRunner, tmp_path: Path) -> None:
    folder = fixture_plugin(
        "seed",
        tmp_path / "broken",
        version="one",
        supported_resource_types=["virtual_machine", "vm"],
    )

    result = cli.invoke(app, ["plugin", "validate", str(folder)])

    assert result.exit_code == 1
    assert "manifest.yml: version" in text(result)
    assert "supported_resource_types[1]" in text(result)


def test_validate_a_folder_without_a_manifest(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = cli.invoke(app, ["plugin", "validate", str(tmp_path / "empty")])

    assert result.exit_code == 1
    assert "manifest.yml is missing" in text(result)


def test_validate_a_folder_that_does_not_exist(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["plugin", "validate", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: not a folder" in text(result)


def test_package_writes_an_archive_the_registry_accepts(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "out" / "simulated.tar.gz"
    target.parent.mkdir()

    result = cli.invoke(app, ["plugin", "package", str(SIMULATED), "-o", str(target)])

    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in text(result)
    unpacked = tmp_path / "unpacked"
    extract(target.read_bytes(), unpacked, max_bytes=50 * 1024 * 1024)
    root = find_root(unpacked)
    assert parse_manifest((root / "manifest.yml").read_bytes()).key == "simulated:datacenter"
    assert (root / "provider.py").read_bytes() == (SIMULATED / "provider.py").read_bytes()


def test_package_names_the_archive_after_the_plugin(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fixture_plugin("seed", tmp_path / "seed")
    monkeypatch.chdir(tmp_path)

    result = cli.invoke(app, ["plugin", "package", str(folder)])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "myvendor-myplatform-1.0.0.tar.gz").is_file()


def test_package_refuses_a_folder_without_a_manifest(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["plugin", "package", str(tmp_path)])

    assert result.exit_code == 1
    assert "manifest.yml" in text(result)


# -- bad arguments -------------------------------------------------------------------


def test_provider_key_without_a_colon_exits_2(cli: CliRunner) -> None:
    result = cli.invoke(app, ["provider", "create", "--name", "x", "--key", "simulated"])

    assert result.exit_code == 2
    assert "--key: expected vendor:provider_type, got 'simulated'" in text(result)


def test_config_without_equals_exits_2(cli: CliRunner) -> None:
    args = ["provider", "create", "--name", "x", "--key", "simulated:datacenter", "-c", "clusters"]

    result = cli.invoke(app, args)

    assert result.exit_code == 2
    assert "--config: expected KEY=VALUE, got 'clusters'" in text(result)


def test_missing_required_option_exits_2(cli: CliRunner) -> None:
    result = cli.invoke(app, ["provider", "create", "--key", "simulated:datacenter"])

    assert result.exit_code == 2
    assert "--name" in text(result)


def test_no_credentials_exits_2_naming_the_variables(cli: CliRunner) -> None:
    result = cli.invoke(app, ["plugin", "list"])

    assert result.exit_code == 2
    assert "ESTATE_PASSWORD" in text(result)


# -- against a real server -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update(COLUMNS="200", **extra)
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``estate serve`` on a free port with its own data directory; killed at teardown."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(ESTATE_DATA_DIR=str(tmp_path / "server"), ESTATE_ADMIN_PASSWORD=PASSWORD)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(ESTATE), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/api/inventory/v1/ping/", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "estate serve did not answer within 60s"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, 9)
        process.wait(timeout=10)
        log.close()


def estate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ESTATE), *args],
        env=clean_env(ESTATE_URL=url, ESTATE_PASSWORD=PASSWORD),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_end_to_end_against_a_real_server(server: str) -> None:
    plugins = estate(server, "plugin", "list")
    assert plugins.returncode == 0, plugins.stderr
    assert "simulated:datacenter" in plugins.stdout

    created = estate(
        server,
        *("provider", "create", "--name", "x", "--key", "simulated:datacenter"),
        *("-c", "clusters=1", "-c", "hosts_per_cluster=2", "-c", "vms_per_host=3"),
    )
    assert created.returncode == 0, created.stderr
    match = re.search(r"created provider (\d+) 'x'", created.stdout)
    assert match, created.stdout
    provider_id = match.group(1)

    listed = estate(server, "provider", "list")
    assert listed.returncode == 0, listed.stderr
    assert "simulated:datacenter" in listed.stdout

    none = estate(server, "plugin", "processes")
    assert none.returncode == 0, none.stderr
    assert "no plugin process is up" in none.stdout
    tested = estate(server, "provider", "test", provider_id)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "ok x: connected" in tested.stdout
    processes = estate(server, "plugin", "processes")
    assert processes.returncode == 0, processes.stderr
    assert f"provider:{provider_id}" in processes.stdout
    assert "running" in processes.stdout

    collected = estate(server, "provider", "collect", provider_id, "--wait")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "completed" in collected.stdout
    found = re.search(r"found (\d+), created (\d+)", collected.stdout)
    assert found, collected.stdout
    assert int(found.group(1)) == int(found.group(2)) > 0

    rows = estate(
        server, "resources", "list", "--provider", provider_id, "--type", "virtual_machine"
    )
    assert rows.returncode == 0, rows.stderr
    assert "6 resource(s)" in rows.stdout
    assert rows.stdout.count("virtual_machine") == 6

    wrong = subprocess.run(
        [str(ESTATE), "plugin", "list"],
        env=clean_env(ESTATE_URL=server, ESTATE_PASSWORD="wrong"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 1
    assert "401" in wrong.stderr


def test_cli_says_when_the_server_cannot_be_reached() -> None:
    result = estate(f"http://127.0.0.1:{free_port()}", "plugin", "list")

    assert result.returncode == 1
    assert "cannot reach the Estate API" in " ".join(result.stderr.split())
