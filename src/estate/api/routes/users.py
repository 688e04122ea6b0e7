"""Users and their API tokens."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy import select

from ...auth.passwords import hash_password, new_token, token_digest
from ...db.models import ApiToken, Membership, Organization, User
from ...db.states import Role
from ..deps import AdminUser, CurrentUser, SessionDep, fits
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import MembershipBrief, TokenCreate, TokenPublic, UserCreate, UserPublic

router = APIRouter(tags=["users"])


def _public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        is_active=user.is_active,
        organization=user.organization_id,
        memberships=[
            MembershipBrief(organization=m.organization_id, role=Role(m.role))
            for m in user.memberships
        ],
        created_at=user.created_at,
    )


@router.get("/users/")
def list_users(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[UserPublic]:
    count, rows, next_url, previous = page_of(
        session, request, select(User).order_by(User.id), page, page_size
    )
    return Page(count=count, next=next_url, previous=previous, results=[_public(u) for u in rows])


@router.post("/users/", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, user: AdminUser) -> UserPublic:
    if session.scalar(select(User).where(User.username == body.username)):
        raise HTTPException(400, detail=f"username: {body.username!r} is taken")
    organization = body.organization
    if organization is not None and (
        not fits(organization) or session.get(Organization, organization) is None
    ):
        raise HTTPException(
            400, detail=f"organization: no organization with id {body.organization}"
        )
    created = User(
        username=body.username,
        password_hash=hash_password(body.password),
        is_admin=body.is_admin,
        organization_id=body.organization,
    )
    session.add(created)
    session.flush()
    if organization is not None:
        # The home organization, seen (as a migrated user's is); more is granted per role.
        session.add(Membership(user_id=created.id, organization_id=organization))
    session.commit()
    return _public(created)


@router.get("/users/me/")
def who_am_i(user: CurrentUser) -> UserPublic:
    return _public(user)


def _token_public(token: ApiToken, secret: str | None = None) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        token=secret,
    )


@router.get("/tokens/")
def list_tokens(session: SessionDep, user: CurrentUser) -> Page[TokenPublic]:
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()
    return Page(
        count=len(tokens), next=None, previous=None, results=[_token_public(t) for t in tokens]
    )


@router.post("/tokens/", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, session: SessionDep, user: CurrentUser) -> TokenPublic:
    secret = new_token()
    token = ApiToken(
        user_id=user.id, name=body.name, token_hash=token_digest(secret), prefix=secret[:8]
    )
    session.add(token)
    session.commit()
    return _token_public(token, secret)


@router.delete("/tokens/{token_id}/", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(token_id: int, session: SessionDep, user: CurrentUser) -> Response:
    token = session.get(ApiToken, token_id) if fits(token_id) else None
    if token is None or token.user_id != user.id:
        raise HTTPException(404, detail=f"no token with id {token_id}")
    session.delete(token)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
