"""``estate conformance run``: locally, without the service; three report formats, exit codes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from factories import FIXTURE_PLUGINS
from served import Estate, words

SMALL = {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 2, "datastores": 1, "networks": 1}
STATUSES = {"pass", "fail", "skip", "error"}
PROFILE_STATUSES = {"pass", "partial", "fail", "not_tested"}


def _assert_schema(data: dict[str, Any]) -> None:
    """The JSON report's documented shape (docs/conformance.md), key by key."""
    assert set(data) == {
        "suite_version",
        "plugin",
        "platform",
        "started_at",
        "finished_at",
        "profiles",
        "checks",
    }
    assert data["suite_version"] == "1"
    assert set(data["plugin"]) == {"key", "version"}
    assert isinstance(data["platform"], str) and data["platform"]
    for moment in ("started_at", "finished_at"):
        assert data[moment].endswith("Z") and datetime.fromisoformat(data[moment])
    for counts in data["profiles"].values():
        assert set(counts) == {"status", "passed", "failed", "skipped"}
        assert counts["status"] in PROFILE_STATUSES
    for check in data["checks"]:
        assert set(check) == {"name", "profile", "status", "message", "duration_s"}
        assert re.fullmatch(r"[a-z]+\.[a-z_]+\.[a-z_]+", check["name"])
        assert check["name"].split(".")[0] == check["profile"]
        assert check["status"] in STATUSES and isinstance(check["duration_s"], float)


def test_conformance_run_writes_junit_json_and_markdown(offline: Estate, tmp_path: Path) -> None:
    config = tmp_path / "simulated.json"
    config.write_text(json.dumps({**SMALL, "password": "simulated"}))
    junit, report, markdown = tmp_path / "r.xml", tmp_path / "r.json", tmp_path / "r.md"

    result = offline(
        "conformance", "run", "--plugin", "simulated:datacenter", "--provider-config", str(config),
        "--profile", "snapshot", "--junit", str(junit), "--json", str(report), "--markdown", str(markdown),
    )  # fmt: skip

    assert result.exit_code == 0, words(result)
    data = json.loads(report.read_text())
    _assert_schema(data)
    checks = data["checks"]
    assert data["plugin"] == {"key": "simulated:datacenter", "version": "1.0.0"}
    assert {k: v["status"] for k, v in data["profiles"].items()} == {
        "base": "pass", "snapshot": "pass", "core": "not_tested", "clone": "not_tested",
        "image": "not_tested", "advanced": "not_tested",
    }  # fmt: skip
    assert {c["status"] for c in checks} == {"pass"}
    root = ET.fromstring(junit.read_text())
    cases = root.findall("./testsuite/testcase")
    assert sorted(case.get("name") for case in cases) == sorted(c["name"] for c in checks)
    assert [s.get("name") for s in root.findall("testsuite")] == ["base", "snapshot"]
    rows = [line for line in markdown.read_text().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [c["name"] for c in checks]
    assert "✓ snapshot.snapshot_revert.restores_state" in result.stderr
    assert "snapshot" in result.stdout and "not_tested" in result.stdout


def test_conformance_run_exits_1_naming_the_failed_check(offline: Estate, tmp_path: Path) -> None:
    config = tmp_path / "broken.yml"
    config.write_text(yaml.safe_dump({"password": "revert-me-not"}))
    junit = tmp_path / "broken.xml"

    result = offline(
        "conformance", "run", "--plugin", str(FIXTURE_PLUGINS / "ignores_revert"),
        "--provider-config", str(config), "--profile", "snapshot", "--junit", str(junit),
    )  # fmt: skip

    assert result.exit_code == 1, words(result)
    assert "✗ snapshot.snapshot_revert.restores_state" in words(result)
    failures = ET.fromstring(junit.read_text()).findall(".//testcase/failure/..")
    assert [case.get("name") for case in failures] == ["snapshot.snapshot_revert.restores_state"]


@pytest.mark.parametrize(
    ("plugin", "config", "extra", "message"),
    [
        (
            "ipmi:bmc",
            "{}",
            ["--profile", "snapshot"],
            "profile 'snapshot': not claimed by ipmi:bmc",
        ),
        (
            "simulated:datacenter",
            None,
            [],
            "cannot read the provider config (No such file or directory)",
        ),
        (
            "simulated:datacenter",
            "[1, 2]",
            [],
            "expected a mapping of connection parameters, not a list",
        ),
        ("simulated:datacenter", "a: [", [], "not YAML or JSON"),
        (
            "simulated:datacenter",
            "bad_credentials: wrong",
            [],
            "bad_credentials: expected a mapping",
        ),
        (
            "nowhere:nothing",
            "{}",
            [],
            "nowhere:nothing: neither a plugin folder nor a built-in plugin's key",
        ),
    ],
)
def test_conformance_run_refuses_bad_usage_with_exit_2(
    offline: Estate, tmp_path: Path, plugin: str, config: str | None, extra: list[str], message: str
) -> None:
    path = tmp_path / "config.yml"
    if config is not None:
        path.write_text(config)

    result = offline(
        "conformance", "run", "--plugin", plugin, "--provider-config", str(path), *extra
    )

    assert result.exit_code == 2, words(result)
    assert message in words(result)
    assert "✓" not in result.stderr  # refused before any check ran
