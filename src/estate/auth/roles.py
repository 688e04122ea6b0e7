"""Who may do what in which organization: the one place the rules are read.

A *system administrator* (``User.is_admin``) may do everything, in every
organization. Anyone else holds a :class:`~estate.db.states.Role` per organization
(a :class:`~estate.db.models.Membership`): *viewer* reads, *operator* also collects,
cancels and tests, *admin* also edits providers and their credentials and manages
members. An organization where a user holds no role is invisible to that user.

An object belongs to the organization of its provider (a provider to its own);
events with no provider (published by plugin API routes) belong to none and are
seen by system administrators only. The API turns these answers into 404 (not
visible) and 403 (visible, role too low); see docs/security.md for every route.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..db.models import (
    ActionRun,
    Base,
    CollectionRun,
    Event,
    Membership,
    Organization,
    Provider,
    Resource,
    Tag,
    User,
    Watchlist,
)
from ..db.states import Role

__all__ = [
    "Role",
    "administered_organizations",
    "can",
    "in_visible",
    "members_of",
    "organization_of",
    "role_in",
    "visible_organizations",
]


def visible_organizations(session: Session, user: User) -> frozenset[int] | None:
    """The ids of the organizations ``user`` holds a role in; None means all of them
    (a system administrator)."""
    if user.is_admin:
        return None
    ids = session.scalars(
        select(Membership.organization_id).where(Membership.user_id == user.id)
    ).all()
    return frozenset(ids)


def administered_organizations(session: Session, user: User) -> frozenset[int] | None:
    """The ids of the organizations whose members ``user`` manages (holds admin in);
    None means all of them (a system administrator)."""
    if user.is_admin:
        return None
    ids = session.scalars(
        select(Membership.organization_id).where(
            Membership.user_id == user.id, Membership.role == Role.ADMIN
        )
    ).all()
    return frozenset(ids)


def role_in(session: Session, user: User, organization_id: int) -> Role | None:
    """The role ``user`` holds in the organization, None when none; a system
    administrator is an admin everywhere."""
    if user.is_admin:
        return Role.ADMIN
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == user.id, Membership.organization_id == organization_id
        )
    )
    return Role(role) if role is not None else None


def can(session: Session, user: User, need: Role, organization_id: int | None) -> bool:
    """Whether ``user`` may do what needs ``need`` in the organization (None: an object
    of no organization, which only system administrators reach)."""
    if user.is_admin:
        return True
    if organization_id is None:
        return False
    role = role_in(session, user, organization_id)
    return role is not None and role.covers(need)


def organization_of(session: Session, row: Base) -> int | None:
    """The organization ``row`` belongs to: its own (a provider, tag or watchlist), its
    provider's; None for a provider-less event."""
    if isinstance(row, Organization):
        return row.id
    if isinstance(row, Provider | Tag | Watchlist):
        return row.organization_id
    if isinstance(row, CollectionRun | Resource | ActionRun):
        return row.provider.organization_id
    if isinstance(row, Event):
        if row.provider_id is None:
            return None
        return session.scalar(
            select(Provider.organization_id).where(Provider.id == row.provider_id)
        )
    raise TypeError(f"{type(row).__name__} belongs to no organization")


def in_visible(
    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None],
    visible: frozenset[int] | None,
) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose provider (``column`` holds a provider id)
    belongs to a ``visible`` organization; every row when ``visible`` is None."""
    if visible is None:
        return true()
    return column.in_(select(Provider.id).where(Provider.organization_id.in_(visible)))


def members_of(session: Session, organization_id: int) -> list[tuple[Membership, str]]:
    """The organization's memberships with each member's user name, by user id."""
    rows = session.execute(
        select(Membership, User.username)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id)
        .order_by(Membership.user_id)
    ).all()
    return [(membership, username) for membership, username in rows]
