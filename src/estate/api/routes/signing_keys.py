"""Signing keys: the keyring plugin signatures are checked against (docs/repository.md).

System administrators manage installation-wide keys; an organization's admins manage
that organization's keys. Everyone sees the installation-wide keys and those of their
organizations. Only public keys are ever taken or answered.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...auth.roles import role_in
from ...db.models import SigningKey, User
from ...db.states import Role
from ...registry.errors import SigningKeyNotFound
from ...registry.keyring import import_key, lookup, revoke
from ..deps import CurrentUser, SessionDep, Visible, require_role
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas_signing import SigningKeyCreate, SigningKeyPublic, SigningKeyRevoke

router = APIRouter(prefix="/signing-keys", tags=["signing keys"])


def _public(key: SigningKey, versions_revoked: int | None = None) -> SigningKeyPublic:
    return SigningKeyPublic(
        id=key.id,
        key_id=key.key_id,
        name=key.name,
        public_key=key.public_key,
        organization=key.organization_id,
        managed=key.managed,
        created_at=key.created_at,
        created_by=key.created_by,
        revoked_at=key.revoked_at,
        revoked_reason=key.revoked_reason,
        versions_revoked=versions_revoked,
    )


def _system_only(user: User) -> None:
    if not user.is_admin:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="installation-wide signing keys are managed by system administrators",
        )


@router.get("/")
def list_signing_keys(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[SigningKeyPublic]:
    query = select(SigningKey).order_by(SigningKey.id)
    if visible is not None:
        query = query.where(
            or_(SigningKey.organization_id.is_(None), SigningKey.organization_id.in_(visible))
        )
    results = [_public(key) for key in session.scalars(query)]
    return page_list(request, results, page, page_size)


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    responses=conflict("That key is in the keyring already"),
)
def import_signing_key(
    body: SigningKeyCreate, session: SessionDep, user: CurrentUser
) -> SigningKeyPublic:
    if body.organization is None:
        _system_only(user)
    else:
        require_role(session, user, body.organization, Role.ADMIN)
    key = import_key(
        session,
        name=body.name,
        public_key=body.public_key,
        organization_id=body.organization,
        created_by=user.username,
    )
    return _public(key)


@router.post(
    "/{key_id}/revoke/",
    responses=conflict("The key is revoked already"),
)
def revoke_signing_key(
    key_id: str, body: SigningKeyRevoke, session: SessionDep, user: CurrentUser
) -> SigningKeyPublic:
    key = _managed_by(session, user, key_id)
    touched = revoke(session, key, body.reason)
    return _public(key, touched)


def _managed_by(session: Session, user: User, key_id: str) -> SigningKey:
    """The key ``user`` may revoke: 404 when there is none they can see, 403 when they
    see it but may not manage it."""
    key = lookup(session, key_id[:64])
    if key is None:
        raise SigningKeyNotFound(f"no signing key with id {key_id!r}")
    if user.is_admin:
        return key
    if key.organization_id is None:
        _system_only(user)
    else:
        role = role_in(session, user, key.organization_id)
        if role is None:
            raise SigningKeyNotFound(f"no signing key with id {key_id!r}")
        if not role.covers(Role.ADMIN):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the admin role in organization {key.organization_id}",
            )
    return key
