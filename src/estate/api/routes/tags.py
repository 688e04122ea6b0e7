"""User tags: definitions per organization (``tags/``) and a resource's tags
(``resources/{id}/tags/``, with ``add/``, ``set/`` and ``remove/`` as the UIS has them).

Roles: viewers read; operators tag resources (``add/`` and ``set/`` define a tag
the organization does not have yet, as the UIS's clients expect); admins define and
delete tags through ``tags/`` (deleting one takes it off every resource).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response, status
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...db.models import Resource, ResourceTag, Tag, User
from ...db.states import Role
from ...db.storable import INT_MAX
from ...inventory.tags import (
    add_tags,
    clear_tags,
    get_or_create,
    remove_tags,
    tag_query,
    tags_of,
)
from ..deps import CurrentUser, SessionDep, Visible, get_in_scope_or_404, require_role
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import TagAssign, TagCreate, TagPublic, TagRef
from .resources import tag_public

router = APIRouter(tags=["tags"])

MAX_TAGS_PER_CALL = 200
Assignments = Annotated[list[TagAssign], Body(max_length=MAX_TAGS_PER_CALL)]
Removals = Annotated[
    list[Annotated[int, Field(ge=1, le=2**31 - 1)] | TagRef], Body(max_length=MAX_TAGS_PER_CALL)
]


def _contains(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@router.get("/tags/")
def list_tags(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    namespace: Annotated[str | None, Query(max_length=128, description="Exactly, any case")] = None,
    key: Annotated[str | None, Query(max_length=256, description="Part of the key")] = None,
    value: Annotated[str | None, Query(max_length=1024, description="Part of the value")] = None,
    resource: Annotated[
        int | None, Query(ge=1, le=INT_MAX, description="Tags on this resource")
    ] = None,
    organization: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[TagPublic]:
    query = select(Tag).order_by(Tag.namespace, Tag.key, Tag.value, Tag.id)
    if visible is not None:
        query = query.where(Tag.organization_id.in_(visible))
    if namespace is not None:
        query = query.where(func.lower(Tag.namespace) == namespace.lower())
    if key is not None:
        query = query.where(Tag.key.ilike(_contains(key), escape="\\"))
    if value is not None:
        query = query.where(Tag.value.ilike(_contains(value), escape="\\"))
    if resource is not None:
        query = query.where(
            Tag.id.in_(select(ResourceTag.tag_id).where(ResourceTag.resource_id == resource))
        )
    if organization is not None:
        query = query.where(Tag.organization_id == organization)
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [tag_public(t) for t in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/tags/", status_code=status.HTTP_201_CREATED)
def create_tag(body: TagCreate, session: SessionDep, user: CurrentUser) -> TagPublic:
    require_role(session, user, body.organization, Role.ADMIN)
    ref = (body.namespace, body.key, body.value)
    found = session.scalar(tag_query(body.organization, *ref))
    if found is not None:
        raise HTTPException(
            400,
            detail=f"namespace, key, value: organization {body.organization} has this tag "
            f"already (id {found.id})",
        )
    tag = get_or_create(session, body.organization, ref)
    session.commit()
    return tag_public(tag)


def _tag(session: Session, user: User, tag_id: int, need: Role = Role.VIEWER) -> Tag:
    return get_in_scope_or_404(session, user, Tag, tag_id, "tag", need=need)


@router.get("/tags/{tag_id}/")
def get_tag(tag_id: int, session: SessionDep, user: CurrentUser) -> TagPublic:
    return tag_public(_tag(session, user, tag_id))


@router.delete("/tags/{tag_id}/", status_code=status.HTTP_204_NO_CONTENT)
def delete_tag(tag_id: int, session: SessionDep, user: CurrentUser) -> Response:
    """Delete the tag; every resource carrying it loses it."""
    session.delete(_tag(session, user, tag_id, Role.ADMIN))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _resource(session: Session, user: User, resource_id: int, need: Role) -> Resource:
    return get_in_scope_or_404(
        session, user, Resource, resource_id, "resource", need=need, limit=INT_MAX
    )


def _current(session: Session, resource: Resource) -> list[TagPublic]:
    return [tag_public(t) for t in tags_of(session, [resource.id])[resource.id]]


@router.get("/resources/{resource_id}/tags/")
def resource_tags(resource_id: int, session: SessionDep, user: CurrentUser) -> list[TagPublic]:
    """The resource's tags (a plain list, as the UIS answers)."""
    return _current(session, _resource(session, user, resource_id, Role.VIEWER))


def _assign(
    session: Session, user: User, resource_id: int, body: list[TagAssign], *, replace: bool
) -> list[TagPublic]:
    resource = _resource(session, user, resource_id, Role.OPERATOR)
    organization = resource.provider.organization_id
    tags = [get_or_create(session, organization, (t.namespace, t.key, t.value)) for t in body]
    if replace:
        clear_tags(session, resource.id)
    add_tags(session, resource.id, tags)
    session.commit()
    return _current(session, resource)


@router.post("/resources/{resource_id}/tags/add/")
def add_resource_tags(
    resource_id: int, body: Assignments, session: SessionDep, user: CurrentUser
) -> list[TagPublic]:
    """Add tags (``[{"namespace", "key", "value"}, …]``; namespace ``user`` by default);
    the resource keeps those it has. Answers its tags."""
    return _assign(session, user, resource_id, body, replace=False)


@router.post("/resources/{resource_id}/tags/set/")
def set_resource_tags(
    resource_id: int, body: Assignments, session: SessionDep, user: CurrentUser
) -> list[TagPublic]:
    """Replace the resource's tags with these (``[]`` removes them all)."""
    return _assign(session, user, resource_id, body, replace=True)


@router.post("/resources/{resource_id}/tags/remove/")
def remove_resource_tags(
    resource_id: int, body: Removals, session: SessionDep, user: CurrentUser
) -> list[TagPublic]:
    """Take tags off: by id (the UIS's way) or as ``{"namespace", "key", "value"}``.
    Tags the resource does not carry are ignored. Answers its tags."""
    resource = _resource(session, user, resource_id, Role.OPERATOR)
    organization = resource.provider.organization_id
    ids = [item for item in body if isinstance(item, int)]
    for ref in (item for item in body if isinstance(item, TagRef)):
        tag = session.scalar(tag_query(organization, ref.namespace, ref.key, ref.value))
        if tag is not None:
            ids.append(tag.id)
    remove_tags(session, resource.id, ids)
    session.commit()
    return _current(session, resource)
