"""What a conformance run found: each check's result, each profile's status, three formats.

``SuiteReport.to_json()`` is what the service stores verbatim and the catalog reads
(docs/conformance.md, "The report"); ``to_junit()`` is for CI, ``to_markdown()`` for
people. A profile's status:

    pass        every check of the profile passed
    partial     no check of a required action failed, but a check was skipped or a
                check of an optional action failed
    fail        a check of a required action (or of the profile as a whole) failed
    not_tested  the profile was not run
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SUITE_VERSION = "1"
"""Bumped whenever a check is added, removed or made stricter: results of two suite
versions are not comparable."""

BASE = "base"
"""The checks every plugin answers, whatever profiles it claims."""

CheckStatus = Literal["pass", "fail", "skip", "error"]
ProfileStatus = Literal["pass", "partial", "fail", "not_tested"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome. ``required`` is whether its failure fails the profile
    (``partial`` otherwise: the check of an optional action)."""

    name: str
    profile: str
    status: CheckStatus
    message: str
    duration_s: float
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "profile": self.profile,
            "status": self.status,
            "message": self.message,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class SuiteReport:
    """A whole run: the plugin, the platform it ran against, every check in order."""

    plugin_key: str
    plugin_version: str
    platform: str
    started_at: datetime
    finished_at: datetime
    profiles: list[str]
    """The profiles run (besides ``base``), in order."""
    checks: list[CheckResult] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)
    """Every profile the plugin claims: those not run are ``not_tested``."""
    suite_version: str = SUITE_VERSION

    @property
    def passed(self) -> bool:
        """Whether every check that ran passed (skips aside)."""
        return all(check.status in ("pass", "skip") for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status in ("fail", "error")]

    def profile_status(self, name: str) -> ProfileStatus:
        """``pass``, ``partial``, ``fail`` or ``not_tested`` (see the module docstring)."""
        if name != BASE and name not in self.profiles:
            return "not_tested"
        mine = [check for check in self.checks if check.profile == name]
        if not mine:
            return "not_tested"
        failed = [check for check in mine if check.status in ("fail", "error")]
        if any(check.required for check in failed):
            return "fail"
        if failed or any(check.status == "skip" for check in mine):
            return "partial"
        return "pass"

    def counts(self, name: str) -> dict[str, int]:
        mine = [check for check in self.checks if check.profile == name]
        return {
            "passed": sum(check.status == "pass" for check in mine),
            "failed": sum(check.status in ("fail", "error") for check in mine),
            "skipped": sum(check.status == "skip" for check in mine),
        }

    def profile_names(self) -> list[str]:
        """``base``, the profiles run, then the claimed ones not run."""
        names = [BASE, *self.profiles]
        return names + [name for name in self.claimed if name not in names]

    def to_json(self) -> dict[str, Any]:
        """The report as the service stores it and the catalog reads it."""
        return {
            "suite_version": self.suite_version,
            "plugin": {"key": self.plugin_key, "version": self.plugin_version},
            "platform": self.platform,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "profiles": {
                name: {"status": self.profile_status(name), **self.counts(name)}
                for name in self.profile_names()
            },
            "checks": [check.to_json() for check in self.checks],
        }

    def to_junit(self) -> str:
        """JUnit XML: one test suite per profile, one test case per check."""
        root = ET.Element("testsuites", name=f"estate conformance {self.plugin_key}")
        for name in [BASE, *self.profiles]:
            mine = [check for check in self.checks if check.profile == name]
            counts = self.counts(name)
            suite = ET.SubElement(
                root,
                "testsuite",
                name=name,
                tests=str(len(mine)),
                failures=str(sum(c.status == "fail" for c in mine)),
                errors=str(sum(c.status == "error" for c in mine)),
                skipped=str(counts["skipped"]),
                time=f"{sum(c.duration_s for c in mine):.3f}",
                timestamp=_iso(self.started_at),
            )
            for check in mine:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    name=check.name,
                    classname=f"{self.plugin_key}.{name}",
                    time=f"{check.duration_s:.3f}",
                )
                if check.status in ("fail", "error", "skip"):
                    tag = {"fail": "failure", "error": "error", "skip": "skipped"}[check.status]
                    ET.SubElement(case, tag, message=check.message).text = check.message
                elif check.message:
                    ET.SubElement(case, "system-out").text = check.message
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def to_markdown(self) -> str:
        """A summary table of the profiles, then one row per check."""
        lines = [
            f"# Conformance of {self.plugin_key} {self.plugin_version}",
            "",
            f"Suite version {self.suite_version}, against {_cell(self.platform)}, "
            f"{_iso(self.started_at)} to {_iso(self.finished_at)}.",
            "",
            "| profile | status | passed | failed | skipped |",
            "|---|---|---|---|---|",
        ]
        for name in self.profile_names():
            counts = self.counts(name)
            lines.append(
                f"| {name} | {self.profile_status(name)} | {counts['passed']} | "
                f"{counts['failed']} | {counts['skipped']} |"
            )
        lines += ["", "| check | status | seconds | message |", "|---|---|---|---|"]
        for check in self.checks:
            lines.append(
                f"| `{check.name}` | {check.status} | {check.duration_s:.2f} | "
                f"{_cell(check.message)} |"
            )
        return "\n".join(lines) + "\n"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _cell(text: str) -> str:
    """``text`` within one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
