"""The ``snapshot`` profile's checks: snapshots are made, listed, reverted to and deleted.

A revert (and a rollback) must restore the state recorded when the snapshot was taken:
between the snapshot and the revert the suite changes the resource's power state with
the core actions, so a revert that does nothing is seen.
"""

from __future__ import annotations

from typing import Any

from .checks import Failed, Skipped, check
from .session import Session, mentions

DESCRIPTION = "made by the Estate conformance suite"


def _subject(session: Session) -> dict[str, Any]:
    resource: dict[str, Any] | None = session.memo.get("snapshot.subject")
    if resource is None:
        resource = session.pick(["snapshot_create"])
        session.remember(resource)
        session.memo["snapshot.subject"] = resource
    return resource


def _taken(session: Session) -> tuple[str, dict[str, Any]]:
    taken: tuple[str, dict[str, Any]] | None = session.memo.get("snapshot.taken")
    if taken is None:
        raise Skipped("needs snapshot.snapshot_create.listed, which did not pass")
    return taken


@check("snapshot.snapshot_list.returns_list", action="snapshot_list")
def list_returns_list(session: Session) -> str:
    """``snapshot_list`` answers a list: the resource's snapshots."""
    resource = _subject(session)
    listed = session.act("snapshot_list", resource)
    if not isinstance(listed, list):
        raise Failed(f"expected a list, snapshot_list answered {type(listed).__name__}")
    return f"{len(listed)} snapshot(s) of {resource['ems_ref']}"


@check("snapshot.snapshot_create.listed", action="snapshot_create")
def create_listed(session: Session) -> str:
    """``snapshot_create`` completes, and ``snapshot_list`` then names the new snapshot."""
    resource = _subject(session)
    name = session.name("snapshot")
    session.act("snapshot_create", resource, {"name": name, "description": DESCRIPTION})
    session.snapshots.append((resource["ems_ref"], name))
    listed = session.act("snapshot_list", resource)
    if not mentions(listed, [name]):
        raise Failed(f"expected snapshot_list to name {name!r}; it answered {str(listed)[:300]}")
    session.memo["snapshot.taken"] = (name, resource)
    return f"{name} of {resource['ems_ref']} (state {resource.get('state')!r})"


def _restores(session: Session, action: str, params: dict[str, Any]) -> str:
    name, at = _taken(session)
    recorded = at.get("state")
    if recorded not in ("running", "stopped"):
        raise Skipped(
            f"the state at snapshot time is {recorded!r}; the suite moves only running or stopped"
        )
    other = "stopped" if recorded == "running" else "running"
    moved = session.memo["snapshot.subject"] = session.ensure(
        session.memo["snapshot.subject"], other
    )
    try:
        seen = session.converge(action, moved, {"state": recorded}, params)
    except Failed as exc:
        raise Failed(f"{exc} (recorded at snapshot {name!r}: {recorded!r})") from None
    session.memo["snapshot.subject"] = seen
    return f"{at['ems_ref']}: {recorded} at the snapshot, {other} then, {recorded} after {action}"


@check("snapshot.snapshot_revert.restores_state", action="snapshot_revert")
def revert_restores_state(session: Session) -> str:
    """``snapshot_revert`` to the suite's snapshot, after the resource's power state was
    changed, brings back the state recorded at snapshot time (the next collection shows
    it)."""
    return _restores(session, "snapshot_revert", {"snapshot": _taken(session)[0]})


@check("snapshot.rollback.restores_state", action="rollback")
def rollback_restores_state(session: Session) -> str:
    """``rollback`` (to the latest snapshot: the suite's), after the resource's power state
    was changed again, brings back the state recorded at snapshot time."""
    return _restores(session, "rollback", {})


@check("snapshot.snapshot_delete.removes", action="snapshot_delete")
def delete_removes(session: Session) -> str:
    """``snapshot_delete`` completes, and ``snapshot_list`` then no longer names the
    snapshot."""
    name, at = _taken(session)
    resource = session.memo["snapshot.subject"]
    session.act("snapshot_delete", resource, {"snapshot": name})
    session.snapshots.remove((at["ems_ref"], name))
    listed = session.act("snapshot_list", resource)
    if mentions(listed, [name]):
        raise Failed(f"expected {name!r} gone after snapshot_delete; snapshot_list still names it")
    return f"{name} deleted"
