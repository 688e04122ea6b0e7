"""The long-lived plugin processes the supervisor keeps, with their health and crashes."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ContextDep, CurrentUser
from ..pagination import Page
from ..schemas import PluginLogLine, PluginProcessPublic

router = APIRouter(prefix="/plugin-processes", tags=["plugin processes"])


@router.get("/")
def list_processes(context: ContextDep, user: CurrentUser) -> Page[PluginProcessPublic]:
    """Every supervised process: provider processes (connection tests, health, actions)
    and plugin-version processes (API routes). Collection runs have processes of their
    own, shown on the run."""
    results = [
        PluginProcessPublic(
            slot=":".join(str(part) for part in entry["key"]),
            plugin_key=entry["plugin_key"],
            label=entry["label"],
            state=entry["state"],
            pid=entry["pid"],
            starts=entry["starts"],
            restarts=entry["restarts"],
            recent_crashes=entry["recent_crashes"],
            retry_in=entry["retry_in"],
            breaker_open_for=entry["breaker_open_for"],
            health_ms=entry["health_ms"],
            idle_seconds=entry["idle_seconds"],
            last_error=entry["last_error"],
            log=[PluginLogLine(**line) for line in entry["log"]],
        )
        for entry in sorted(context.supervisor.status(), key=lambda e: str(e["key"]))
    ]
    return Page[PluginProcessPublic](count=len(results), next=None, previous=None, results=results)
