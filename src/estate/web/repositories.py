"""Remote plugin repositories (system administrators, as the API has them): the list with
each one's last sync and whether a token is stored (never the token), a form to register
one, and a repository's page — edit, enable / disable, delete, **Sync now**, and what it
offered at its last sync with an **Install** button per version (installed ones marked).
Every change posts to the API (``repositories/``, ``provider-plugins/install/``) with
the session cookie and the page's CSRF token; the API's refusal (a 502 of a sync, an
unsigned or untrusted package, a sha256 mismatch) is told in the flash."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import PluginRepository, PluginVersion, RemotePluginVersion
from ..db.states import RepositoryKind
from ..registry.policy import semver_key
from .admin import PageNumber, require_system_admin
from .deps import CHECKS, PageError, PageSession, PageVisitor
from .templating import page

router = APIRouter(include_in_schema=False, dependencies=CHECKS)
PAGE_SIZE = 50
KINDS = [kind.value for kind in RepositoryKind]


@dataclass
class Offered:
    """One version a repository offered, and what is installed here of that key and version."""

    row: RemotePluginVersion
    installed_sha: str | None

    @property
    def installed(self) -> bool:
        return self.installed_sha is not None

    @property
    def same_bytes(self) -> bool:
        return self.installed_sha == self.row.sha256


def _offered_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(RemotePluginVersion.repository_id, func.count()).group_by(
            RemotePluginVersion.repository_id
        )
    ).all()
    return {repository_id: count for repository_id, count in rows}


@router.get("/admin/repositories")
def repository_list(request: Request, session: PageSession, visitor: PageVisitor) -> HTMLResponse:
    require_system_admin(visitor)
    repositories = session.scalars(
        select(PluginRepository).order_by(PluginRepository.priority, PluginRepository.name)
    ).all()
    return page(
        request,
        "admin_repositories.html",
        repositories=repositories,
        offered=_offered_counts(session),
        kinds=KINDS,
    )


@router.get("/admin/repositories/{repository_id}")
def repository_page(
    request: Request,
    repository_id: int,
    session: PageSession,
    visitor: PageVisitor,
    number: PageNumber = 1,
) -> HTMLResponse:
    require_system_admin(visitor)
    found = session.get(PluginRepository, repository_id) if 0 < repository_id < 2**31 else None
    if found is None:
        raise PageError(404, "no such repository")
    offered = _offered(session, found.id)
    start = (number - 1) * PAGE_SIZE
    return page(
        request,
        "admin_repository.html",
        repository=found,
        offered=offered[start : start + PAGE_SIZE],
        count=len(offered),
        kinds=KINDS,
        page_number=number,
        pages=max(1, -(-len(offered) // PAGE_SIZE)),
    )


def _offered(session: Session, repository_id: int) -> list[Offered]:
    """What the repository offered at its last sync: by key, newest first."""
    rows = session.scalars(
        select(RemotePluginVersion).where(RemotePluginVersion.repository_id == repository_id)
    ).all()
    rows = sorted(rows, key=lambda r: semver_key(r.version), reverse=True)
    rows = sorted(rows, key=lambda r: r.key)
    installed = dict(
        ((key, version), sha)
        for key, version, sha in session.execute(
            select(PluginVersion.key, PluginVersion.version, PluginVersion.sha256).where(
                PluginVersion.key.in_({r.key for r in rows})
            )
        )
    )
    return [Offered(row, installed.get((row.key, row.version))) for row in rows]
