"""A provider's plugin version: pin, unpin, upgrade (with a preview), rollback.

System administrators only, as installing plugins is: each changes which installed
code runs for the provider (docs/repository.md).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from ...db.models import Provider, User
from ...registry import upgrades
from ..deps import AdminUser, SessionDep, get_in_scope_or_404
from ..openapi import conflict
from ..schemas_versions import MovePublic, PinRequest, UpgradePublic, UpgradeRequest

router = APIRouter(prefix="/providers", tags=["provider versions"])


def _provider(session: Session, user: User, provider_id: int) -> Provider:
    return get_in_scope_or_404(session, user, Provider, provider_id, "provider")


@router.post(
    "/{provider_id}/pin/",
    description="Pin the provider to exactly one installed version (not a yanked one).",
)
def pin_provider(
    provider_id: int, body: PinRequest, session: SessionDep, user: AdminUser
) -> MovePublic:
    provider = _provider(session, user, provider_id)
    move = upgrades.pin(session, provider, body.version)
    session.commit()
    return MovePublic(**move.answer())


@router.post(
    "/{provider_id}/unpin/",
    description="Back to the latest compatible version (policy null).",
)
def unpin_provider(provider_id: int, session: SessionDep, user: AdminUser) -> MovePublic:
    provider = _provider(session, user, provider_id)
    move = upgrades.unpin(session, provider)
    session.commit()
    return MovePublic(**move.answer())


@router.post(
    "/{provider_id}/upgrade/",
    description="Move the provider to another version or policy. With `dry_run` nothing "
    "changes: the answer is the manifest diff between the version it runs now and the "
    "target (resource types, connection parameters, profiles, requirements, actions).",
)
def upgrade_provider(
    provider_id: int, body: UpgradeRequest, session: SessionDep, user: AdminUser
) -> UpgradePublic:
    provider = _provider(session, user, provider_id)
    move, diff = upgrades.upgrade(session, provider, body.to, dry_run=body.dry_run)
    if body.dry_run:
        session.rollback()
    else:
        session.commit()
    return UpgradePublic(**move.answer(), dry_run=body.dry_run, diff=diff)


@router.post(
    "/{provider_id}/rollback/",
    responses=conflict("Nothing to roll back to, or that version was deleted"),
    description="Pin the provider to the exact version it used before its version last "
    "changed; the next job runs it, nothing restarts.",
)
def rollback_provider(provider_id: int, session: SessionDep, user: AdminUser) -> MovePublic:
    provider = _provider(session, user, provider_id)
    move = upgrades.rollback(session, provider)
    session.commit()
    return MovePublic(**move.answer())
