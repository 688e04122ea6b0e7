"""Members of an organization: who holds which role in it (auth/roles.py reads them).

The organization's admins and system administrators manage them; for anyone who
cannot see the organization, it does not exist (404).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.roles import members_of
from ...db.models import Membership, Organization, User
from ...db.states import Role
from ..deps import CurrentUser, SessionDep, fits, get_in_scope_or_404
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas import MembershipCreate, MembershipPublic, MembershipUpdate

router = APIRouter(prefix="/organizations/{organization_id}/members", tags=["organizations"])


def _public(membership: Membership, username: str) -> MembershipPublic:
    return MembershipPublic(
        user=membership.user_id,
        username=username,
        organization=membership.organization_id,
        role=Role(membership.role),
        created_at=membership.created_at,
    )


def _managed(session: Session, user: User, organization_id: int) -> Organization:
    return get_in_scope_or_404(
        session, user, Organization, organization_id, "organization", need=Role.ADMIN
    )


def _membership(session: Session, organization_id: int, user_id: int) -> Membership:
    found = (
        session.scalar(
            select(Membership).where(
                Membership.organization_id == organization_id, Membership.user_id == user_id
            )
        )
        if fits(user_id)
        else None
    )
    if found is None:
        raise HTTPException(
            404, detail=f"user {user_id} is not a member of organization {organization_id}"
        )
    return found


@router.get("/")
def list_members(
    request: Request,
    organization_id: int,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[MembershipPublic]:
    _managed(session, user, organization_id)
    rows = members_of(session, organization_id)
    results = [_public(membership, username) for membership, username in rows]
    return page_list(request, results, page, page_size)


@router.post("/", status_code=status.HTTP_201_CREATED)
def add_member(
    organization_id: int, body: MembershipCreate, session: SessionDep, user: CurrentUser
) -> MembershipPublic:
    _managed(session, user, organization_id)
    member = session.get(User, body.user)  # the schema bounds the id
    if member is None:
        raise HTTPException(400, detail=f"user: no user with id {body.user}")
    if session.scalar(
        select(Membership.id).where(
            Membership.organization_id == organization_id, Membership.user_id == body.user
        )
    ):
        raise HTTPException(
            400,
            detail=f"user: {member.username!r} is a member already; "
            f"change the role with PATCH members/{body.user}/",
        )
    membership = Membership(user_id=body.user, organization_id=organization_id, role=body.role)
    session.add(membership)
    session.commit()
    return _public(membership, member.username)


@router.patch("/{user_id}/")
def change_member(
    organization_id: int,
    user_id: int,
    body: MembershipUpdate,
    session: SessionDep,
    user: CurrentUser,
) -> MembershipPublic:
    _managed(session, user, organization_id)
    membership = _membership(session, organization_id, user_id)
    membership.role = body.role
    session.commit()
    username = session.scalar(select(User.username).where(User.id == user_id)) or ""
    return _public(membership, username)


@router.delete("/{user_id}/", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    organization_id: int, user_id: int, session: SessionDep, user: CurrentUser
) -> Response:
    _managed(session, user, organization_id)
    session.delete(_membership(session, organization_id, user_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
