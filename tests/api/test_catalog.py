"""The catalog: what each installed plugin claims, declares and proved in stored runs.

Conformance results here are rows a real run would leave (the suite itself runs in
tests/conformance/); the catalog must show them for the version they ran against
only, the newest run per profile, and ``not_tested`` without one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from estate.context import Context
from estate.db.models import ConformanceRun, PluginVersion
from estate.db.states import RunStatus
from estate.registry.install import define_recorded
from factories import API

SIMULATED = "simulated:datacenter"


def _context(client: TestClient) -> Context:
    context: Context = client.app.state.context  # type: ignore[attr-defined]
    return context


def _stored_run(
    client: TestClient, key: str, statuses: dict[str, str], *, ago: int = 0, **more: Any
) -> int:
    """A completed run's row, as the conformance job stores it, ``ago`` minutes old."""
    with _context(client).sessions() as session:
        version = session.scalars(select(PluginVersion).where(PluginVersion.key == key)).one()
        finished = datetime.now(UTC) - timedelta(minutes=ago)
        run = ConformanceRun(
            plugin_key=key,
            plugin_version=version.version,
            plugin_sha256=version.sha256,
            version_id=version.id,
            status=more.pop("status", RunStatus.COMPLETED),
            suite_version="1",
            platform="simulated datacenter",
            report={
                "suite_version": "1",
                "profiles": {p: {"status": s} for p, s in statuses.items()},
                "checks": [],
            },
            finished_at=finished,
            **more,
        )
        session.add(run)
        session.commit()
        return run.id


def test_the_catalog_lists_every_plugin_with_claims_actions_and_untested_profiles(
    client: TestClient,
) -> None:
    answer = client.get(f"{API}/catalog/")

    assert answer.status_code == 200, answer.text
    entries = {e["key"]: e for e in answer.json()["results"]}
    assert SIMULATED in entries and "vmware:vcenter" in entries
    simulated = entries[SIMULATED]
    assert simulated["profiles"] == ["core", "snapshot", "clone", "image", "advanced"]
    assert simulated["maintainers"] == ["Estate maintainers"]
    assert simulated["license"] == ["Apache-2.0"]
    assert (simulated["maturity"], simulated["tags"]) == (
        "stable",
        ["demo", "simulated", "benchmark"],
    )
    names = {a["name"] for a in simulated["actions"]}
    assert {"power_on", "snapshot_revert", "clone", "instance_create", "resize"} <= names
    assert {p: r["status"] for p, r in simulated["conformance"].items()} == {
        "core": "not_tested",
        "snapshot": "not_tested",
        "clone": "not_tested",
        "image": "not_tested",
        "advanced": "not_tested",
    }
    assert simulated["conformance"]["core"]["tested_at"] is None


def test_a_profile_shows_its_newest_completed_run_of_this_version_only(
    client: TestClient,
) -> None:
    _stored_run(client, SIMULATED, {"core": "fail", "snapshot": "fail"}, ago=30)
    newest = _stored_run(client, SIMULATED, {"core": "pass"}, ago=10)
    _stored_run(client, SIMULATED, {"core": "fail"}, status=RunStatus.FAILED)  # no report counts
    _stored_run(client, SIMULATED, {"clone": "partial"}, ago=20)

    entry = client.get(f"{API}/catalog/{SIMULATED}/").json()

    found = entry["conformance"]
    assert found["core"]["status"] == "pass" and found["core"]["run"] == newest
    assert found["core"]["platform"] == "simulated datacenter"
    assert found["core"]["suite_version"] == "1" and found["core"]["tested_at"]
    assert found["snapshot"]["status"] == "fail"  # the older run is the newest to test it
    assert found["clone"]["status"] == "partial"
    assert found["advanced"]["status"] == "not_tested"

    # A run of another version (a re-upload is a new record) vouches for nothing here.
    with _context(client).sessions() as session:
        session.execute(update(ConformanceRun).values(version_id=None))
        session.commit()
    again = client.get(f"{API}/catalog/{SIMULATED}/").json()["conformance"]
    assert {r["status"] for r in again.values()} == {"not_tested"}


def test_badges_are_svg_coloured_by_status_and_refuse_an_unclaimed_profile(
    client: TestClient,
) -> None:
    _stored_run(client, SIMULATED, {"core": "pass", "snapshot": "fail"})

    passed = client.get(f"{API}/catalog/{SIMULATED}/badges/core.svg")
    failed = client.get(f"{API}/catalog/{SIMULATED}/badges/snapshot.svg")
    untested = client.get(f"{API}/catalog/{SIMULATED}/badges/clone.svg")

    for answer in (passed, failed, untested):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("image/svg+xml")
        ET.fromstring(answer.text)  # well-formed
    assert "core: pass" in passed.text and "#4c1" in passed.text
    assert "snapshot: fail" in failed.text and "#e05d44" in failed.text
    assert "clone: not tested" in untested.text
    unclaimed = client.get(f"{API}/catalog/ipmi:bmc/badges/snapshot.svg")
    assert unclaimed.status_code == 404
    assert "does not claim profile 'snapshot'" in unclaimed.json()["detail"]
    unknown = client.get(f"{API}/catalog/nobody:here/badges/core.svg")
    assert unknown.status_code == 404 and "nobody:here" in unknown.json()["detail"]


def test_versions_recorded_before_definitions_are_defined_again_at_start(
    client: TestClient,
) -> None:
    context = _context(client)
    with context.sessions() as session:
        session.execute(update(PluginVersion).values(definition=None))
        session.commit()
    assert client.get(f"{API}/catalog/{SIMULATED}/").json()["actions"] is None

    with context.sessions() as session:
        defined = define_recorded(session, context.settings)

    assert defined >= 1
    actions = client.get(f"{API}/catalog/{SIMULATED}/").json()["actions"]
    assert "snapshot_create" in {a["name"] for a in actions}


def test_the_catalog_needs_a_login(anonymous: TestClient) -> None:
    assert anonymous.get(f"{API}/catalog/").status_code == 401
    assert anonymous.get(f"{API}/catalog/{SIMULATED}/badges/core.svg").status_code == 401
