"""Plugin environments: what a plugin process inherits (the service's environment minus
Estate's own secrets), and per-version environments built by real uv from wheels
written by hand: no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from estate.config import Settings
from estate.runtime.environments import (
    PluginEnvironment,
    child_env,
    prepare_environment,
    venv_python,
)
from estate.runtime.errors import PluginEnvironmentError
from estate.runtime.host import PluginProcess
from factories import TEST_CLASS_PATH, fixture_plugin, wheel

REQUIREMENTS = "requirements.txt"


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", offline=True)


def version_folder(root: Path, requirements: str) -> tuple[Path, Path]:
    """A version folder as the registry stages it: ``<root>/plugin`` holds the plugin."""
    folder = fixture_plugin("seed", root / "plugin")
    (folder / "requirements.txt").write_text(requirements)
    return root, folder


def run_in(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_no_requirements_means_no_environment(offline: Settings, tmp_path: Path) -> None:
    root, plugin = version_folder(tmp_path / "v", "# nothing but the SDK\n")

    assert prepare_environment(root, plugin, REQUIREMENTS, offline) == ""
    assert not (root / "venv").exists()


def test_the_environment_holds_the_sdk_and_exactly_the_requirements(
    offline: Settings, tmp_path: Path
) -> None:
    root, plugin = version_folder(tmp_path / "v", "tinydep==1.0\n")
    wheel(plugin / "wheels", "tinydep", "1.0", 'VERSION = "1.0"\n')

    log = prepare_environment(root, plugin, REQUIREMENTS, offline)

    assert "tinydep==1.0" in log
    python = venv_python(root)
    done = run_in(python, "import sys, tinydep, inventory_providers; print(tinydep.VERSION)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1.0"
    # The service's own packages are not there: only the SDK and the requirements.
    assert run_in(python, "import fastapi").returncode != 0
    assert run_in(python, "import tinydep").returncode == 0


def test_the_plugin_and_its_requirements_are_compiled_ahead(
    offline: Settings, tmp_path: Path
) -> None:
    """Jobs start processes from the version: none may need to compile what it imports
    (where PYTHONDONTWRITEBYTECODE is set none would keep what it compiled)."""
    root, plugin = version_folder(tmp_path / "v", "tinydep==1.0\n")
    wheel(plugin / "wheels", "tinydep", "1.0", 'VERSION = "1.0"\n')
    (plugin / "helpers.py").write_text("X = 1\n")

    prepare_environment(root, plugin, REQUIREMENTS, offline)

    tag = sys.implementation.cache_tag
    assert (plugin / "__pycache__" / f"provider.{tag}.pyc").is_file()
    assert (plugin / "__pycache__" / f"helpers.{tag}.pyc").is_file()
    assert list((root / "venv").glob(f"lib/python*/site-packages/__pycache__/tinydep.{tag}.pyc"))
    # Used as is: importing with writing forbidden finds the bytecode (no recompile).
    done = run_in(
        venv_python(root),
        "import sys; sys.dont_write_bytecode = True; import tinydep; print(tinydep.__cached__)",
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()


def test_a_plugin_without_requirements_is_compiled_too(offline: Settings, tmp_path: Path) -> None:
    root, plugin = version_folder(tmp_path / "v", "")

    prepare_environment(root, plugin, REQUIREMENTS, offline)

    assert (plugin / "__pycache__" / f"provider.{sys.implementation.cache_tag}.pyc").is_file()


def test_a_service_wheelhouse_is_a_source(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheel(wheelhouse, "housedep", "3.1", 'VERSION = "3.1"\n')
    settings = Settings(data_dir=tmp_path / "data", offline=True, wheelhouse=wheelhouse)
    root, plugin = version_folder(tmp_path / "v", "housedep==3.1\n")

    prepare_environment(root, plugin, REQUIREMENTS, settings)

    done = run_in(venv_python(root), "import housedep; print(housedep.VERSION)")
    assert done.stdout.strip() == "3.1", done.stderr


def test_offline_a_missing_wheel_fails_fast_and_says_why(offline: Settings, tmp_path: Path) -> None:
    root, plugin = version_folder(tmp_path / "v", "not-shipped-anywhere==9.9\n")

    started = time.monotonic()
    with pytest.raises(PluginEnvironmentError) as caught:
        prepare_environment(root, plugin, REQUIREMENTS, offline)

    assert time.monotonic() - started < 30
    message = str(caught.value)
    assert message.startswith("requirements.txt: installing the requirements failed: ")
    assert "not-shipped-anywhere" in message
    assert "index" in message.lower()
    assert "not-shipped-anywhere" in caught.value.log


def test_offline_a_missing_requirement_is_named_with_what_to_do(
    offline: Settings, tmp_path: Path
) -> None:
    root, plugin = version_folder(tmp_path / "v", "tinydep==1.0\nnot-in-the-house==2.0\n")
    wheel(offline.resolved_wheelhouse, "tinydep", "1.0", 'VERSION = "1.0"\n')

    with pytest.raises(PluginEnvironmentError) as caught:
        prepare_environment(root, plugin, REQUIREMENTS, offline)

    advice = str(caught.value).splitlines()[-1]
    assert advice == (
        "offline (ESTATE_OFFLINE=1): requirements install only from the wheelhouse "
        f"{offline.resolved_wheelhouse} and the plugin's wheels/, and not-in-the-house is in "
        "neither: import a bundle that contains it (`estate plugin bundle import`)"
    )


def test_the_wheelhouse_is_in_the_data_directory_unless_set(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_wheelhouse == tmp_path.resolve() / "wheels"
    elsewhere = Settings(data_dir=tmp_path, wheelhouse=tmp_path / "house")
    assert elsewhere.resolved_wheelhouse == tmp_path.resolve() / "house"


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("0", False), ("true", True), ("False", False)]
)
def test_offline_reads_four_words(text: str, value: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTATE_OFFLINE", text)

    assert Settings().offline is value


@pytest.mark.parametrize("typo", ["ture", "yes", "on", "2", ""])
def test_offline_refuses_anything_else(typo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTATE_OFFLINE", typo)

    with pytest.raises(ValueError, match="is not one of 1, 0, true, false"):
        Settings()


def test_the_environment_runs_on_the_services_python(offline: Settings, tmp_path: Path) -> None:
    root, plugin = version_folder(tmp_path / "v", "tinydep==1.0\n")
    wheel(plugin / "wheels", "tinydep", "1.0", 'VERSION = "1.0"\n')

    prepare_environment(root, plugin, REQUIREMENTS, offline)

    done = run_in(venv_python(root), "import sys; print(sys.version_info[:3], sys.prefix)")
    assert done.stdout.split(")")[0] + ")" == str(sys.version_info[:3])
    assert Path(done.stdout.split(")")[1].strip()) == root / "venv"


SECRETS = {
    "ESTATE_SECRET_KEY": "k" * 44,
    "ESTATE_DATABASE_URL": "postgresql://estate:hunter2@db/estate",
    "ESTATE_ADMIN_PASSWORD": "admin-secret",
}
PLATFORM = {
    "HTTPS_PROXY": "http://proxy.example:3128",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
    "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
}


def test_child_env_drops_every_estate_variable_and_keeps_the_rest() -> None:
    base = {**SECRETS, **PLATFORM, "ESTATE_ANYTHING_NEW": "x", "PATH": "/usr/bin"}

    env = child_env(base, None)

    assert not [name for name in env if name.startswith("ESTATE_")]
    for name, value in PLATFORM.items():
        assert env[name] == value
    assert env["PATH"] == "/usr/bin"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "PYTHONPATH" not in env
    assert base["ESTATE_SECRET_KEY"] == SECRETS["ESTATE_SECRET_KEY"], "base is not changed"


def test_child_env_puts_the_private_packages_first(tmp_path: Path) -> None:
    site = tmp_path / "site"

    alone = child_env({}, site)
    after = child_env({"PYTHONPATH": "/opt/lib"}, site)

    assert alone["PYTHONPATH"] == str(site)
    assert after["PYTHONPATH"] == f"{site}{os.pathsep}/opt/lib"


def test_environment_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", PLATFORM["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("ESTATE_SECRET_KEY", SECRETS["ESTATE_SECRET_KEY"])

    env = PluginEnvironment(plugin_dir=tmp_path).env()

    assert env["AWS_ENDPOINT_URL"] == PLATFORM["AWS_ENDPOINT_URL"]
    assert "ESTATE_SECRET_KEY" not in env


def test_a_running_plugin_sees_platform_settings_and_no_estate_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {**SECRETS, **PLATFORM}.items():
        monkeypatch.setenv(name, value)
    folder = fixture_plugin("echoes_os_environ", tmp_path / "plugin")
    batches: list[Any] = []

    with PluginProcess(PluginEnvironment(plugin_dir=folder), TEST_CLASS_PATH) as plugin:
        plugin.call("configure", {"provider": {}, "credential": {}})
        plugin.call("collect", {}, on_notification=lambda method, params: batches.append(params))

    [[resource]] = [batch["resources"] for batch in batches]
    if not isinstance(resource, dict):  # the host may pass records on as raw JSON
        resource = json.loads(bytes(resource))
    seen = resource["properties"]["environ"]
    for name, value in PLATFORM.items():
        assert seen[name] == value
    assert not [name for name in seen if name.startswith("ESTATE_")]
    dumped = json.dumps(seen)
    for secret in SECRETS.values():
        assert secret not in dumped
