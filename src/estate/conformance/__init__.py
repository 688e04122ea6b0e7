"""The provider conformance suite: profiles → checks → report (docs/conformance.md).

report = run_suite(Path("plugins/simulated/datacenter"), {"vms_per_host": 2})
report.profile_status("snapshot")     # "pass" | "partial" | "fail" | "not_tested"
report.to_json(), report.to_junit(), report.to_markdown()
"""

from .report import SUITE_VERSION, CheckResult, SuiteReport
from .runner import run_suite

__all__ = ["SUITE_VERSION", "CheckResult", "SuiteReport", "run_suite"]
