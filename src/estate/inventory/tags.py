"""User tags on resources: the ``?tag=`` filter's grammar, reading and assigning them.

A tag is ``namespace/key=value`` in one organization (the UIS's model). The resource
list filters by ``[namespace/]key[:value]`` (``=`` works as ``:`` too, so the UIS's own
way of writing a tag is accepted): ``env:prod`` is the tag with key ``env`` and value
``prod`` in any namespace, ``ops/env:prod`` only in namespace ``ops``, ``env`` any
value of key ``env``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.orm import Session, aliased

from ..db.among import among
from ..db.models import Resource, ResourceTag, Tag

MAX_TAG_FILTER = 1500
_SEPARATOR = re.compile("[:=]")


@dataclass(frozen=True, slots=True)
class TagMatch:
    """One ``?tag=`` term: ``namespace`` and ``value`` None match any."""

    key: str
    namespace: str | None = None
    value: str | None = None


def parse_tag(text: str) -> TagMatch:
    """The :class:`TagMatch` ``text`` writes; ValueError saying what is wrong."""
    if not text or len(text) > MAX_TAG_FILTER:
        raise ValueError(f"{text[:40]!r} is not [namespace/]key[:value]: empty or too long")
    namespace: str | None = None
    rest = text
    head, slash, tail = text.partition("/")
    if slash and not _SEPARATOR.search(head):
        namespace, rest = head, tail
        if not namespace:
            raise ValueError(f"{text!r} is not [namespace/]key[:value]: the namespace is empty")
    parts = _SEPARATOR.split(rest, maxsplit=1)
    key = parts[0]
    if not key:
        raise ValueError(f"{text!r} is not [namespace/]key[:value]: the key is empty")
    return TagMatch(key=key, namespace=namespace, value=parts[1] if len(parts) > 1 else None)


def tagged(match: TagMatch) -> ColumnElement[bool]:
    """A WHERE clause on resources: those carrying a tag that ``match`` describes."""
    return Resource.id.in_(_carrying(ResourceTag, match))


def tagged_ids(
    matches: Sequence[TagMatch],
    providers: Sequence[int] | None,
    provider: int | None,
    include_deleted: bool,
) -> Select[Any]:
    """The ids of the resources carrying a tag of each of ``matches`` (one at least),
    of ``provider`` and of ``providers`` when given, deleted too or not, in id order.

    Read from ``resource_tags`` alone: its rows copy their resource's provider and
    whether it is alive (migration 0023), so the first match's rows are one range of
    ``ix_resource_tags_tag`` and no resource is looked at."""
    first, *others = matches
    query = _carrying(ResourceTag, first)
    if not include_deleted:
        query = query.where(ResourceTag.alive)
    if providers is not None:
        query = query.where(ResourceTag.provider_id.in_(providers))
    if provider is not None:
        query = query.where(ResourceTag.provider_id == provider)
    for match in others:
        query = query.where(ResourceTag.resource_id.in_(_carrying(aliased(ResourceTag), match)))
    # (several tags of one match on one resource, env:prod and env:dev for env: once)
    return query.distinct().order_by(ResourceTag.resource_id)


def _carrying(rows: Any, match: TagMatch) -> Select[Any]:
    """The ids of the resources ``rows`` (``resource_tags`` or an alias) tag as
    ``match`` describes."""
    query = select(rows.resource_id).join(Tag, Tag.id == rows.tag_id).where(Tag.key == match.key)
    if match.namespace is not None:
        query = query.where(Tag.namespace == match.namespace)
    if match.value is not None:
        query = query.where(Tag.value == match.value)
    return query


# A page's tags: plain rows of the tag's columns (read as a Tag's attributes are),
# by the statement built once, through the session's connection (no ORM objects).
_TAGS_OF = (
    select(
        ResourceTag.resource_id,
        Tag.id,
        Tag.organization_id,
        Tag.namespace,
        Tag.key,
        Tag.value,
    )
    .join(Tag, Tag.id == ResourceTag.tag_id)
    .where(among(ResourceTag.resource_id, "ids"))
    .order_by(Tag.namespace, Tag.key, Tag.value, Tag.id)
)


def tags_of(session: Session, resource_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The tags of each resource, in one query for a whole page (never one per row):
    rows with a Tag's ``id``, ``organization_id``, ``namespace``, ``key``, ``value``."""
    found: dict[int, list[Any]] = {rid: [] for rid in resource_ids}
    if not resource_ids:
        return found
    rows = session.connection().execute(_TAGS_OF, {"ids": list(resource_ids)}).all()
    for row in rows:
        found[row[0]].append(row)
    return found


def tag_query(organization_id: int, namespace: str, key: str, value: str) -> Select[Tag]:
    return select(Tag).where(
        Tag.organization_id == organization_id,
        Tag.namespace == namespace,
        Tag.key == key,
        Tag.value == value,
    )


def get_or_create(session: Session, organization_id: int, ref: tuple[str, str, str]) -> Tag:
    """The organization's tag ``(namespace, key, value)``, defined now if it was not."""
    tag = session.scalar(tag_query(organization_id, *ref))
    if tag is None:
        namespace, key, value = ref
        tag = Tag(organization_id=organization_id, namespace=namespace, key=key, value=value)
        session.add(tag)
        session.flush()
    return tag


def add_tags(session: Session, resource_id: int, tags: Iterable[Tag]) -> None:
    """Put ``tags`` on the resource; those it carries already stay as they are."""
    have = set(
        session.scalars(select(ResourceTag.tag_id).where(ResourceTag.resource_id == resource_id))
    )
    for tag in tags:
        if tag.id not in have:
            session.add(ResourceTag(resource_id=resource_id, tag_id=tag.id))
            have.add(tag.id)
    session.flush()


def remove_tags(session: Session, resource_id: int, tag_ids: Iterable[int]) -> None:
    ids = list(tag_ids)
    if ids:
        session.execute(
            delete(ResourceTag).where(
                ResourceTag.resource_id == resource_id, ResourceTag.tag_id.in_(ids)
            )
        )


def clear_tags(session: Session, resource_id: int) -> None:
    session.execute(delete(ResourceTag).where(ResourceTag.resource_id == resource_id))
