"""auth/roles.py: roles are ordered; what a user sees follows their memberships."""

from __future__ import annotations

from fastapi.testclient import TestClient

from estate.auth import roles
from estate.db.models import Membership, Organization, User
from estate.db.states import Role


def test_each_role_covers_the_ones_below_it() -> None:
    assert list(Role) == [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
    assert Role.ADMIN.covers(Role.OPERATOR) and Role.OPERATOR.covers(Role.VIEWER)
    assert not Role.VIEWER.covers(Role.OPERATOR)
    assert not Role.OPERATOR.covers(Role.ADMIN)


def test_a_user_sees_the_organizations_of_their_memberships_only(client: TestClient) -> None:
    context = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions() as session:
        other = Organization(name="other")
        user = User(username="u", password_hash="x")
        system = User(username="s", password_hash="x", is_admin=True)
        session.add_all([other, user, system])
        session.flush()
        session.add(Membership(user_id=user.id, organization_id=other.id, role=Role.OPERATOR))
        session.commit()

        assert roles.visible_organizations(session, user) == {other.id}
        assert roles.visible_organizations(session, system) is None
        assert roles.role_in(session, user, other.id) == Role.OPERATOR
        assert roles.role_in(session, user, 1) is None
        assert roles.can(session, user, Role.OPERATOR, other.id)
        assert not roles.can(session, user, Role.ADMIN, other.id)
        assert not roles.can(session, user, Role.VIEWER, 1)
        # An object of no organization (a plugin-wide event): system administrators only.
        assert not roles.can(session, user, Role.VIEWER, None)
        assert roles.can(session, system, Role.ADMIN, None)
