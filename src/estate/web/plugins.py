"""Plugins: every installed plugin with its versions (ready / preparing / failed, their
install logs, signature status and trust, yanked or not, compatibility), where each
came from and how many providers use it; the supervised plugin processes (system
administrators, as the API has it); and for system administrators the upload drop
zone, whose archive estate.js posts to the API's upload endpoint, and per uploaded
version Yank / Unyank / Delete, which post to the versions API. The versions' table is
live: a new upload shows preparing → ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..context import Context
from ..db.models import PluginVersion
from ..db.states import VersionState
from ..jobs.process_board import every_process
from ..registry.catalog import catalog_keys
from ..registry.compatibility import is_usable, problems_of
from ..registry.versions import latest_compatible, providers_using, versions_of
from . import live
from .deps import CHECKS, LiveVisitor, PageSession, PageVisitor
from .templating import fragment, page

router = APIRouter(include_in_schema=False, dependencies=CHECKS)
LOG_CHARS = 20_000  # an install log's tail on the page; the API has it whole


@dataclass
class VersionRow:
    """One stored version as the page shows it: the record, and what this service
    lacks to run it (empty when compatible) and whether it may be resolved anyway."""

    version: PluginVersion
    problems: list[str]
    usable: bool


@dataclass
class Installed:
    """One plugin as the page shows it."""

    key: str
    name: str
    versions: list[VersionRow]
    active_id: int | None
    provider_count: int


def installed(session: Session, visible: frozenset[int] | None) -> list[Installed]:
    """Every installed plugin, its versions newest first (a few rows per plugin)."""
    found = []
    for key in catalog_keys(session):
        versions = versions_of(session, key)
        active = latest_compatible(session, key)
        shown = active or versions[0]
        found.append(
            Installed(
                key=key,
                name=shown.manifest.get("display_name") or key,
                versions=[VersionRow(v, problems_of(v.manifest), is_usable(v)) for v in versions],
                active_id=None if active is None else active.id,
                provider_count=providers_using(session, key, visible),
            )
        )
    return found


def _versions_key(session: Session) -> tuple[Any, ...]:
    """What the table shows changes only when this does: each version's id, state,
    signature status, yank and compatibility override."""
    rows = session.execute(
        select(
            PluginVersion.id,
            PluginVersion.state,
            PluginVersion.signature_status,
            PluginVersion.yanked,
            PluginVersion.compatibility_override,
        ).order_by(PluginVersion.id)
    ).all()
    return tuple(tuple(row) for row in rows)


def _table(session: Session, visible: frozenset[int] | None, is_admin: bool) -> str:
    plugins = installed(session, visible)
    return fragment("_plugins_table.html", plugins=plugins, log_chars=LOG_CHARS, is_admin=is_admin)


@router.get("/plugins")
def plugin_list(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    is_admin = visitor.user.is_admin
    state = request.app.state
    processes = every_process(state.context.supervisor, state.process_board) if is_admin else []
    return page(
        request,
        "plugins.html",
        table=_table(session, visitor.visible, is_admin),
        processes=processes,
        is_admin=is_admin,
    )


@router.get("/live/plugins")
def plugins_live(request: Request, visitor: LiveVisitor) -> StreamingResponse:
    visible, is_admin = visitor.visible, visitor.user.is_admin

    def render(context: Context) -> dict[str, str]:
        with context.reads() as session:
            return {"plugins": _table(session, visible, is_admin)}

    def look(context: Context) -> live.Snapshot:
        with context.reads() as session:
            key = _versions_key(session)
        preparing = any(row[1] == VersionState.PREPARING for row in key)
        return key, preparing, lambda: render(context)

    return live.stream(request, look)
