"""The catalog: every plugin, what it claims, and how its claims fared in real runs.

A plugin's entry is its shown version (``versions.shown_version``): the manifest's
description, maintainers, license, maturity and tags; the profiles it claims; the
actions its ``define`` declared (``PluginVersion.definition``); and per claimed profile
the conformance status of **that version** from stored runs of the suite only
(``ConformanceRun``): the latest completed run that tested the profile decides it.
No run, no status: ``not_tested``. A version re-uploaded or changed on disk is a new
record with no results, so an old pass never vouches for new code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import ConformanceRun, PluginVersion
from ..db.states import RunStatus
from .versions import shown_version

PROFILE_STATUSES = ("pass", "partial", "fail", "not_tested")
NOT_TESTED = "not_tested"


def catalog_keys(session: Session) -> list[str]:
    """Every plugin key installed here, sorted."""
    return list(session.scalars(select(PluginVersion.key).distinct().order_by(PluginVersion.key)))


def catalog_entry(session: Session, key: str) -> dict[str, Any] | None:
    """The catalog entry of ``key``, or None when no version of it is installed."""
    version = shown_version(session, key)
    if version is None:
        return None
    manifest = version.manifest
    definition = version.definition
    claimed = [p for p in manifest.get("profiles") or [] if isinstance(p, str)]
    return {
        "key": version.key,
        "name": manifest.get("display_name") or version.key,
        "description": manifest.get("description") or "",
        "version": version.version,
        "sha256": version.sha256,
        "signature_status": version.signature_status,
        "trust": version.trust,
        "source": version.source,
        "state": version.state,
        "maintainers": list(manifest.get("authors") or []),
        "license": list(manifest.get("license") or []),
        "maturity": manifest.get("maturity"),
        "tags": list(manifest.get("tags") or []),
        "repository": manifest.get("repository"),
        "documentation": manifest.get("documentation"),
        "supported_resource_types": list(manifest.get("supported_resource_types") or []),
        "profiles": claimed,
        "actions": None if definition is None else list(definition.get("actions") or []),
        "conformance": profile_results(session, version, claimed),
    }


def profile_results(
    session: Session, version: PluginVersion, profiles: list[str]
) -> dict[str, dict[str, Any]]:
    """Per profile: status, when, suite version, platform and run of its latest real run."""
    results: dict[str, dict[str, Any]] = {
        profile: {
            "status": NOT_TESTED,
            "tested_at": None,
            "suite_version": None,
            "platform": None,
            "run": None,
        }
        for profile in profiles
    }
    runs = session.scalars(
        select(ConformanceRun)
        .where(
            ConformanceRun.version_id == version.id,
            ConformanceRun.status == RunStatus.COMPLETED,
        )
        .order_by(ConformanceRun.finished_at.desc(), ConformanceRun.id.desc())
    )
    open_profiles = set(profiles)
    for run in runs:
        if not open_profiles:
            break
        tested = (run.report or {}).get("profiles") or {}
        for profile in sorted(open_profiles):
            status = (tested.get(profile) or {}).get("status")
            if status not in PROFILE_STATUSES or status == NOT_TESTED:
                continue
            results[profile] = {
                "status": status,
                "tested_at": run.finished_at,
                "suite_version": run.suite_version,
                "platform": run.platform,
                "run": run.id,
            }
            open_profiles.discard(profile)
    return results
