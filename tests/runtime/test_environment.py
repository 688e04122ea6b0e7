"""What a plugin process inherits: the service's environment minus Estate's own secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from estate.runtime.environment import PluginEnvironment, child_env
from estate.runtime.host import PluginProcess
from factories import TEST_CLASS_PATH, provider_plugin

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
    folder = provider_plugin(
        tmp_path / "plugin",
        """
        def collect(self):
            yield ResourceData(
                ems_ref="env",
                resource_type_slug="virtual_machine",
                properties={"environ": dict(os.environ)},
            )
        """,
    )
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
