"""The report's statuses and formats, and the promise that every check is documented."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from estate.conformance import CheckResult, SuiteReport
from estate.conformance.checks import REGISTRY

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _report(*checks: CheckResult) -> SuiteReport:
    return SuiteReport(
        "test:plugin", "1.0.0", "lab | rack 2", NOW, NOW, ["core"], list(checks), ["core", "clone"]
    )


def _check(
    status: str, *, required: bool = True, name: str = "core.power_on.converges"
) -> CheckResult:
    return CheckResult(name, "core", status, f"it was {status}", 0.5, required)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ([_check("pass"), _check("pass")], "pass"),
        ([_check("pass"), _check("skip")], "partial"),
        ([_check("pass"), _check("fail", required=False)], "partial"),
        ([_check("pass"), _check("error", required=False), _check("fail")], "fail"),
        ([_check("error")], "fail"),
    ],
)
def test_a_profile_passes_fails_or_is_partial_by_its_checks(
    checks: list[CheckResult], expected: str
) -> None:
    report = _report(*checks)

    assert report.profile_status("core") == expected
    assert report.profile_status("clone") == "not_tested"  # claimed, not run
    assert report.profile_status("snapshot") == "not_tested"
    assert report.to_json()["profiles"]["core"]["status"] == expected


def test_the_markdown_keeps_one_row_per_check_whatever_the_message_holds() -> None:
    report = _report(_check("fail"), _check("pass", name="core.reboot.converges"))
    report.checks[0] = CheckResult("core.power_on.converges", "core", "fail", "a | b\nc", 1.0)

    rows = [line for line in report.to_markdown().splitlines() if line.startswith("| `")]

    assert rows[0] == "| `core.power_on.converges` | fail | 1.00 | a \\| b c |"
    assert len(rows) == 2
    assert "against lab \\| rack 2" in report.to_markdown()


def test_every_check_is_documented_in_docs_conformance() -> None:
    text = (REPO / "docs" / "conformance.md").read_text(encoding="utf-8")

    undocumented = [
        check.name
        for check in REGISTRY
        if f"| `{check.name}` |" not in text or check.doc.replace("``", "`") not in text
    ]

    assert len(REGISTRY) > 30
    assert undocumented == []
