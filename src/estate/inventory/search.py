"""``?search=``: part of any text a person would look a resource up by, from an index.

The searched text of a resource is its name, description, ems_ref, canonical_id,
fqdn, vendor_type, os_name, cloud_tenant, flavor and IP and MAC address lists (as
their JSON text), one per line, plus the keys, values and namespaces of its user
tags. Matching is case-insensitive (ASCII) and literal: ``%`` and ``_`` are
characters, not wildcards.

Each backend answers from an index built by migration 0009, never by reading every
row: SQLite from the FTS5 trigram table ``resources_search`` (triggers keep it), read
with ``LIKE`` (which FTS5 answers from its trigrams and checks against the text);
PostgreSQL from a pg_trgm GIN index on the very expression :func:`searched_text`
writes. A term shorter than three characters has no trigram: both backends then read
the whole text (a short term matches most of an estate anyway).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, cast, column, func, literal_column, or_, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Boolean

from ..db.models import Resource, ResourceTag, Tag

SEARCHED = (
    Resource.name,
    Resource.description,
    Resource.ems_ref,
    Resource.canonical_id,
    Resource.fqdn,
    Resource.vendor_type,
    Resource.os_name,
    Resource.cloud_tenant,
    Resource.flavor,
    Resource.ip_addresses,
    Resource.mac_addresses,
)
# SQLite's FTS5 table of the same text, one row per resource (rowid = resources.id).
_FTS = table("resources_search", column("rowid"), column("body", Text))


def like_pattern(text: str) -> str:
    """``%text%`` for an ILIKE with ``escape="\\"``: the user's ``%`` and ``_`` are
    literal."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def searched_text() -> ColumnElement[str]:
    """The searched fields joined by newlines: PostgreSQL's trigram index is on exactly
    this expression (constants written inline, so the planner can match it)."""
    empty, newline = literal_column("''"), literal_column("'\n'")
    parts: list[Any] = []
    for field in SEARCHED:
        value = cast(field, Text) if field in (Resource.ip_addresses, Resource.mac_addresses) else field
        if parts:
            parts.append(newline)
        parts.append(func.coalesce(value, empty))
    joined: Any = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(part)
    return joined  # type: ignore[no-any-return]


class Searched(ColumnElement[bool]):
    """The WHERE clause of ``?search=term`` on resources, written per dialect."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: never compared with 1 on SQLite

    def __init__(self, term: str) -> None:
        self.term = term

    @property
    def _tagged(self) -> Any:
        pattern = like_pattern(self.term)
        return (
            select(ResourceTag.resource_id)
            .join(Tag, Tag.id == ResourceTag.tag_id)
            .where(
                or_(
                    Tag.key.ilike(pattern, escape="\\"),
                    Tag.value.ilike(pattern, escape="\\"),
                    Tag.namespace.ilike(pattern, escape="\\"),
                )
            )
        )


@compiles(Searched, "sqlite")
def _sqlite(element: Searched, compiler: SQLCompiler, **kw: Any) -> str:
    # FTS5 uses its trigrams for LIKE only without ESCAPE: the term's % and _ become
    # _ (one character, found by the index), and instr() then requires the term
    # itself, literally.
    loose = "%" + element.term.replace("%", "_") + "%"
    text = _FTS.c.body
    found = select(_FTS.c.rowid).where(
        text.like(loose), func.instr(func.lower(text), element.term.lower()) > 0
    )
    clause = Resource.id.in_(found.union(element._tagged))
    return compiler.process(clause, **kw)


@compiles(Searched, "postgresql")
def _postgresql(element: Searched, compiler: SQLCompiler, **kw: Any) -> str:
    found = select(Resource.id).where(
        searched_text().ilike(like_pattern(element.term), escape="\\")
    )
    clause = Resource.id.in_(found.union(element._tagged))
    return compiler.process(clause, **kw)


__all__ = ["SEARCHED", "Searched", "like_pattern", "searched_text"]
