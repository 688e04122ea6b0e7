"""Where the CLI finds the service and a credential: flags, ESTATE_*, a saved login, .estate/."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from served import ESTATE, Estate, Service, clean_env, free_port, words


def test_login_saves_a_token_that_later_commands_use(
    estate: Estate, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = estate.ok("login", "--name", "laptop")

    path = Path(os.environ["XDG_CONFIG_HOME"]) / "estate" / "credentials.json"
    assert f"saved in {path}" in words(result)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["url"] == service.url and saved["username"] == "admin"
    monkeypatch.delenv("ESTATE_URL")
    monkeypatch.delenv("ESTATE_PASSWORD")
    assert estate.json("users", "me")["username"] == "admin"
    tokens = estate.json("tokens", "list")["results"]
    assert [t["name"] for t in tokens if t["id"] == saved["token_id"]] == ["laptop"]

    out = estate.ok("logout")
    assert f"token {saved['token_id']} revoked" in words(out)
    assert not path.exists()
    assert estate("--url", service.url, "--token", saved["token"], "users", "me").exit_code == 4
    assert "not logged in" in words(estate.ok("logout"))


def test_flags_win_over_the_environment(estate: Estate, service: Service) -> None:
    wrong = estate("--password", "not-it", "plugin", "list")
    assert wrong.exit_code == 4
    assert estate("--url", f"http://127.0.0.1:{free_port()}", "plugin", "list").exit_code == 5


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ESTATE), *args],
        cwd=cwd,
        env=clean_env(XDG_CONFIG_HOME=str(cwd / "no-config"), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_subfolder_finds_the_service_and_the_password(service: Service) -> None:
    deep = service.root / "src" / "deeper"
    deep.mkdir(parents=True, exist_ok=True)
    served = json.loads((service.root / ".estate" / "service.json").read_text())
    assert served["url"] == service.url

    result = run(deep, "plugin", "list", "-o", "json")

    assert result.returncode == 0, result.stderr
    assert "simulated:datacenter" in {p["key"] for p in json.loads(result.stdout)["results"]}


def test_an_unreachable_service_exits_5_naming_the_url(tmp_path: Path) -> None:
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}"

    result = run(tmp_path, "--url", url, "--password", "x", "resources", "list")

    assert result.returncode == 5
    message = " ".join(result.stderr.split())
    assert "cannot reach the Estate API at http://admin:***@127.0.0.1:" in message
    assert "estate serve" in message and "--url" in message
    assert "hunter2" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert result.stdout == ""
