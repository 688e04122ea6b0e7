"""The suite on real plugin folders run as child processes: it passes the simulated
datacenter, fails a plugin that ignores snapshot_revert naming the check, refuses a
profile the plugin does not claim, and finds a secret the plugin lets out."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.helpers import assert_conforms, assert_passed
from estate.conformance import SUITE_VERSION, run_suite
from estate.conformance.checks import REGISTRY
from factories import FIXTURE_PLUGINS, fixture_plugin

REPO = Path(__file__).resolve().parents[2]
SIMULATED = REPO / "plugins" / "simulated" / "datacenter"
SMALL = {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 3, "datastores": 1, "networks": 1}
IGNORES_REVERT = FIXTURE_PLUGINS / "ignores_revert"
REVERT_PASSWORD = "revert-me-not"


def test_the_simulated_datacenter_conforms_to_every_profile_it_claims() -> None:
    report = assert_conforms(SIMULATED, {**SMALL, "password": "simulated"}, allow_skips=False)

    assert report.profiles == ["core", "snapshot", "clone", "image", "advanced"]
    assert {p: report.profile_status(p) for p in ["base", *report.profiles]} == dict.fromkeys(
        ["base", *report.profiles], "pass"
    )
    ran = {c.name for c in report.checks}
    assert {"snapshot.snapshot_revert.restores_state", "image.image_prepare.creates_image"} <= ran
    assert "core.create.converges" not in ran  # an optional action it does not declare
    assert all(c.name in {r.name for r in REGISTRY} for c in report.checks)


def test_a_plugin_that_ignores_snapshot_revert_fails_naming_the_check() -> None:
    seen: list[str] = []

    report = run_suite(
        IGNORES_REVERT,
        {"password": REVERT_PASSWORD},
        profiles=["snapshot"],
        progress=lambda result: seen.append(result.name),
    )

    failed = [(c.name, c.message) for c in report.checks if c.status != "pass"]
    assert [name for name, _ in failed] == ["snapshot.snapshot_revert.restores_state"]
    assert "expected state 'running' after snapshot_revert" in failed[0][1]
    assert "the next collection shows state 'stopped'" in failed[0][1]
    assert report.profile_status("snapshot") == "fail"
    assert report.profile_status("base") == "pass"
    assert report.profile_status("core") == "not_tested"
    assert seen == [c.name for c in report.checks]
    with pytest.raises(AssertionError, match=r"fail: snapshot\.snapshot_revert\.restores_state"):
        assert_passed(report)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        (
            ["snapshot"],
            r"profile 'snapshot': not claimed by ipmi:bmc \(its manifest claims: core, advanced\)",
        ),
        (["snapshots"], r"profile 'snapshots': no such profile"),
        ("core", r"not the string 'core'"),
    ],
)
def test_a_profile_the_plugin_does_not_claim_is_refused_by_name(
    profiles: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run_suite(REPO / "plugins" / "ipmi" / "bmc", {}, profiles=profiles)  # type: ignore[arg-type]


def test_a_folder_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"manifest.yml: cannot read the plugin's manifest"):
        run_suite(tmp_path, {})


def test_a_secret_the_plugin_logs_fails_the_run_without_reaching_the_report(tmp_path: Path) -> None:
    password, token = "probe-password-5521", "probe-token-8812"
    folder = fixture_plugin(
        "secrets_probe", tmp_path / "probe", constants={"PASSWORD": password, "TOKEN": token}
    )

    report = run_suite(folder, {"password": password, "api_token": token}, profiles=[])

    status = {c.name: c.status for c in report.checks}
    leak = next(c for c in report.checks if c.name == "base.secrets.absent")
    assert status["base.validate.bad_credentials"] == "pass"
    assert leak.status == "fail"
    assert "a log line of validate" in leak.message
    assert "the result of validate" in leak.message  # ok: false, the wrong password in its message
    assert "the error of collect" in leak.message
    text = str(report.to_json()) + report.to_junit() + report.to_markdown()
    for secret in (password, token, f"{password}-wrong"):
        assert secret not in text
    assert report.to_json()["suite_version"] == SUITE_VERSION
