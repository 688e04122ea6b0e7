"""Users and their API tokens.

A system administrator (``User.is_admin``) manages every account: deactivates,
promotes, deletes, sets a new password, lists and revokes anyone's tokens; the last
active system administrator cannot be deactivated, demoted or deleted (409). Every
user changes their own password and manages their own tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from ...auth.passwords import (
    forget_password,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from ...db.models import ApiToken, Membership, Organization, User
from ...db.states import Role
from ..deps import (
    AdminUser,
    ContextDep,
    CurrentUser,
    SessionDep,
    ThrottleDep,
    client_address,
    fits,
    get_or_404,
    too_many_failures,
)
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import (
    MembershipBrief,
    PasswordChange,
    PasswordSet,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(tags=["users"])
_LAST_ADMIN = "The user is the last active system administrator"


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
        session,
        request,
        # One query for every listed user's memberships, not one per user.
        select(User).options(selectinload(User.memberships)).order_by(User.id),
        page,
        page_size,
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


@router.post("/users/me/password/", status_code=status.HTTP_204_NO_CONTENT)
def change_my_password(
    body: PasswordChange,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    throttle: ThrottleDep,
) -> Response:
    """Change your own password; the current one proves it is you (a stolen token
    alone cannot), and wrong guesses count as failed logins."""
    client = client_address(request)
    wait = throttle.retry_after(user.username, client)
    if wait is not None:
        raise too_many_failures(wait)
    if not verify_password(body.current_password, user.password_hash):
        throttle.failed(user.username, client)
        raise HTTPException(400, detail="current_password: not your current password")
    _set_password(session, user, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{user_id}/")
def get_user(user_id: int, session: SessionDep, user: CurrentUser) -> UserPublic:
    """A user: system administrators see anyone, others themselves only."""
    if not user.is_admin and user_id != user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs an administrator")
    return _public(get_or_404(session, User, user_id, "user"))


@router.patch("/users/{user_id}/", responses=conflict(_LAST_ADMIN))
def update_user(
    user_id: int, body: UserUpdate, session: SessionDep, admin: AdminUser
) -> UserPublic:
    """Deactivate or reactivate, promote or demote; a deactivated user's password
    and tokens stop working at their next request."""
    target = get_or_404(session, User, user_id, "user")
    if body.is_active is False or body.is_admin is False:
        _keep_an_administrator(session, target, "deactivate or demote")
    if body.is_active is not None:
        target.is_active = body.is_active
    if body.is_admin is not None:
        target.is_admin = body.is_admin
    session.commit()
    return _public(target)


@router.delete(
    "/users/{user_id}/", status_code=status.HTTP_204_NO_CONTENT, responses=conflict(_LAST_ADMIN)
)
def delete_user(user_id: int, session: SessionDep, admin: AdminUser) -> Response:
    """Delete a user and every token of theirs (their audit entries stay)."""
    target = get_or_404(session, User, user_id, "user")
    _keep_an_administrator(session, target, "delete")
    forget_password(target.password_hash)
    session.execute(delete(ApiToken).where(ApiToken.user_id == target.id))
    session.delete(target)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{user_id}/password/", status_code=status.HTTP_204_NO_CONTENT)
def set_password(
    user_id: int, body: PasswordSet, session: SessionDep, admin: AdminUser
) -> Response:
    """Set a user's password (a reset); the old one stops working at once."""
    _set_password(session, get_or_404(session, User, user_id, "user"), body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{user_id}/tokens/")
def list_user_tokens(
    request: Request,
    user_id: int,
    session: SessionDep,
    admin: AdminUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[TokenPublic]:
    """A user's tokens (system administrators), their secrets never."""
    target = get_or_404(session, User, user_id, "user")
    query = select(ApiToken).where(ApiToken.user_id == target.id).order_by(ApiToken.id)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [_token_public(t) for t in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


def _set_password(session: Session, user: User, password: str) -> None:
    forget_password(user.password_hash)
    user.password_hash = hash_password(password)
    session.commit()


def _keep_an_administrator(session: Session, target: User, doing: str) -> None:
    """409 when ``target`` is the last active system administrator."""
    if not (target.is_admin and target.is_active):
        return
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.is_admin.is_(True), User.is_active.is_(True), User.id != target.id)
    )
    if not others:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"cannot {doing} {target.username!r}: the last active system "
            "administrator (make another one first)",
        )


def _token_public(token: ApiToken, secret: str | None = None) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        user=token.user_id,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        token=secret,
    )


@router.get("/tokens/")
def list_tokens(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[TokenPublic]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [_token_public(t) for t in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/tokens/", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, session: SessionDep, user: CurrentUser, context: ContextDep
) -> TokenPublic:
    """A token for yourself, shown this once; it expires after ``expires_in_days``."""
    settings = context.settings
    days = body.expires_in_days or settings.token_default_days
    if days > settings.token_max_days:
        raise HTTPException(
            400,
            detail=f"expires_in_days: at most {settings.token_max_days} (ESTATE_TOKEN_MAX_DAYS)",
        )
    secret = new_token()
    token = ApiToken(
        user_id=user.id,
        name=body.name,
        token_hash=token_digest(secret),
        prefix=secret[:8],
        expires_at=datetime.now(UTC) + timedelta(days=days),
    )
    session.add(token)
    session.commit()
    return _token_public(token, secret)


@router.delete("/tokens/{token_id}/", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(token_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke a token: its owner may, and a system administrator may revoke any."""
    token = session.get(ApiToken, token_id) if fits(token_id) else None
    if token is None or (token.user_id != user.id and not user.is_admin):
        raise HTTPException(404, detail=f"no token with id {token_id}")
    session.delete(token)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
