"""For CI's per-platform conformance runs: ``assert_conforms`` fails listing the failed checks.

from conformance.helpers import assert_conforms

def test_libvirt_conforms(libvirt_uri: str) -> None:
    assert_conforms(REPO / "plugins" / "libvirt" / "kvm", {"endpoint": libvirt_uri})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from estate.conformance import SuiteReport, run_suite


def assert_conforms(
    plugin_dir: Path,
    config: Mapping[str, Any],
    profiles: Sequence[str] | None = None,
    *,
    bad_config: Mapping[str, Any] | None = None,
    allow_skips: bool = True,
) -> SuiteReport:
    """Run the suite; fail listing every failed check (and every skip, unless allowed)."""
    report = run_suite(plugin_dir, config, profiles=profiles, bad_config=bad_config)
    return assert_passed(report, allow_skips=allow_skips)


def assert_passed(report: SuiteReport, *, allow_skips: bool = True) -> SuiteReport:
    """Fail listing every failed check of ``report`` (and every skip, unless allowed)."""
    wrong = [c for c in report.checks if c.status in ("fail", "error")]
    if not allow_skips:
        wrong += [c for c in report.checks if c.status == "skip"]
    listed = "\n".join(f"  {c.status}: {c.name}: {c.message}" for c in wrong)
    assert not wrong, f"{report.plugin_key} does not conform:\n{listed}"
    return report
