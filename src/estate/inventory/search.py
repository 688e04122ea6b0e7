"""``?search=``: part of any text a person would look a resource up by, from an index.

The searched text of a resource is its name, description, ems_ref, canonical_id,
fqdn, vendor_type, os_name, cloud_tenant, flavor and IP and MAC address lists (as
their JSON text), one per line; a resource also matches when the key, value or
namespace of one of its user tags does. Matching is case-insensitive (ASCII) and
literal: ``%`` and ``_`` are characters, not wildcards.

The text lives in a trigram index (migration 0009): SQLite's FTS5 table
``resources_search`` (a term is a phrase of its trigrams: MATCH answers from the
index alone), PostgreSQL's ``resource_search`` under a pg_trgm GIN index, its text
kept lowered (migration 0025): ``body LIKE lower(pattern)`` is what PostgreSQL's own
ILIKE does (it lowers both sides in a multi-byte encoding), at a fifth of the cost
of lowering the text again on every read (38 ms against 188 per 100,000 texts).
Maintaining a trigram index costs 50-110 µs a row, several times what ingest spends
on the row itself, so writers do not: triggers put the ids of new and changed
resources in ``resource_search_queue``, and :func:`index_queued` moves them into the
index in bulk (the service's :class:`~estate.jobs.indexer.SearchIndexer` threads run
it in the background, two side by side on PostgreSQL). A search is exact at every
moment all the same: it reads the index for the resources not queued and the queued
ones' own rows (few, but for the half-minute after a first collection of a million).
A term shorter than three characters has no trigram: both backends then read every
indexed text. A broad term, held by more than a few thousand texts, is not gathered
from the index at all: the list is walked in id order, each row checked on its
indexed text (PostgreSQL) or its own (SQLite; on PostgreSQL a queued row)
(:func:`broad_term`, ``inventory/broad.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
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
_JSON = (Resource.ip_addresses, Resource.mac_addresses)
QUEUE = table("resource_search_queue", column("resource_id", BigInteger))
# SQLite: FTS5, one row per resource (rowid = resources.id). PostgreSQL: a table.
_FTS = table("resources_search", column("rowid", BigInteger), column("body", Text))
_TEXTS = table("resource_search", column("resource_id", BigInteger), column("body", Text))
BATCH = 5000


def like_pattern(text: str) -> str:
    """``%text%`` for an ILIKE with ``escape="\\"``: the user's ``%`` and ``_`` are
    literal."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase (SQLite): its trigrams in a row, quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def searched_text(resource: Any = Resource) -> ColumnElement[str]:
    """The searched fields of a resource row (of ``resource``: the model or an alias
    of it), one per line (an absent one empty)."""
    empty: ColumnElement[str] = literal_column("''")
    newline: ColumnElement[str] = literal_column("'\n'")
    joined: Any = None
    for field in SEARCHED:
        value: Any = getattr(resource, field.key)
        value = func.coalesce(cast(value, Text) if field in _JSON else value, empty)
        joined = value if joined is None else joined.op("||")(newline).op("||")(value)
    return joined  # type: ignore[no-any-return]


class Searched(ColumnElement[bool]):
    """The WHERE clause of ``?search=term`` on resources, written per dialect.

    The term reaches the SQL as bound parameters only, which are part of the element's
    cache key (``_traverse_internals``): one compiled statement serves every term of a
    shape (compiling the clause cost 3 ms on SQLite and 7 ms on PostgreSQL, twice a
    list: its page and its count), and each call binds its own term's values."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: never compared with 1 on SQLite
    _traverse_internals = [
        ("pattern", InternalTraversal.dp_clauseelement),
        ("needle", InternalTraversal.dp_clauseelement),
        ("phrase", InternalTraversal.dp_clauseelement),
        ("trigrams", InternalTraversal.dp_boolean),
        ("walk", InternalTraversal.dp_boolean),
        ("own", InternalTraversal.dp_boolean),
        ("matched", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self, term: str, walk: bool = False, own: bool = False, matched: Any = None
    ) -> None:
        self.pattern = bindparam(None, like_pattern(term), String())  # for ILIKE
        self.needle = bindparam(None, term.lower(), String())  # for instr()
        self.phrase = bindparam(None, fts_phrase(term), String())  # FTS5
        self.trigrams = len(term) >= 3  # else no trigram to look up
        # A broad term's form: the list walked, each row checked (see broad_term) ...
        self.walk = walk
        # ... on its own text even on PostgreSQL: rows the statement reads anyway (a
        # sample's), whose indexed texts would cost a page each more.
        self.own = own
        # The index's matches read once already in the statement (PostgreSQL: a
        # ``probed`` CTE), read from there rather than from the index again.
        self.matched = matched

    @property
    def tagged(self) -> Any:
        """The ids of resources with a user tag whose key, value or namespace matches."""
        return _tagged(self.pattern)


def _tagged(pattern: Any) -> Any:
    """The ids of resources with a user tag whose key, value or namespace holds the
    ILIKE ``pattern``."""
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
    needle = element.needle
    if element.walk:
        own = func.instr(func.lower(searched_text()), needle) > 0
        return f"({compiler.process(or_(own, Resource.id.in_(element.tagged)), **kw)})"
    body = _FTS.c.body
    matched: ColumnElement[bool]
    if element.trigrams:
        # A phrase of the term's trigrams: the term itself, from the index alone.
        matched = literal_column("resources_search").op("MATCH")(element.phrase)
    else:  # no trigram to look up: every indexed text is read
        matched = func.instr(func.lower(body), needle) > 0
    in_index = Resource.id.in_(select(_FTS.c.rowid).where(matched))
    queued = select(QUEUE.c.resource_id)
    in_row = func.instr(func.lower(searched_text()), needle) > 0
    # An OR of INs: SQLite looks each up by rowid (a MULTI-INDEX OR).
    clause = or_(
        and_(in_index, Resource.id.not_in(queued)),
        and_(Resource.id.in_(queued), in_row),
        Resource.id.in_(element.tagged),
    )
    return f"({compiler.process(clause, **kw)})"


@compiles(Searched, "postgresql")
def _postgresql(element: Searched, compiler: SQLCompiler, **kw: Any) -> str:
    pattern = element.pattern
    if element.walk:
        body = select(_TEXTS.c.body).where(_TEXTS.c.resource_id == Resource.id).scalar_subquery()
        held = (
            searched_text().ilike(pattern, escape="\\") if element.own else _walked(pattern, body)
        )
        clause = or_(held, Resource.id.in_(element.tagged))
        return f"({compiler.process(clause, **kw)})"
    # NOT EXISTS, an anti-join (hashed in batches, or a probe of the queue's key per
    # match): as NOT IN, a queue too big to hash in work_mem (a million ids) was
    # scanned again for every match, and a broad term while the indexers catch up
    # matches hundreds of thousands of indexed texts.
    if element.matched is not None:  # the probe's matches, all of them (few)
        texts = element.matched.c.resource_id
        indexed = select(texts).where(~exists().where(QUEUE.c.resource_id == texts))
    else:
        queued = exists().where(QUEUE.c.resource_id == _TEXTS.c.resource_id)
        indexed = select(_TEXTS.c.resource_id).where(_indexed_holds(pattern), ~queued)
    row = aliased(Resource)
    in_row = (
        select(row.id)
        .join(QUEUE, QUEUE.c.resource_id == row.id)
        .where(searched_text(row).ilike(pattern, escape="\\"))
    )
    # One IN over a UNION ALL: PostgreSQL joins its few ids to resources (an OR of
    # INs would be a filter on every row).
    clause = Resource.id.in_(union_all(indexed, in_row, element.tagged))
    return f"({compiler.process(clause, **kw)})"


def _indexed_holds(pattern: Any, body: Any = _TEXTS.c.body) -> ColumnElement[bool]:
    """Whether an indexed (lowered) text holds the ILIKE ``pattern``: the same answer
    as ILIKE on the resource's own text, which lowers both sides the same way."""
    return body.like(func.lower(pattern), escape="\\")  # type: ignore[no-any-return]


def _walked(pattern: Any, body: Any) -> ColumnElement[bool]:
    """A broad term's check of one row as the list is walked (PostgreSQL): its indexed
    text ``body`` (looked up by the row's id, or joined: ``texts_walk``), unless the
    row is queued (then its own text, read again by its id, so the walk itself reads
    the resources' index alone where the filters let it).

    Measured at a million resources for ``vm-``'s first page (23,814 rows walked
    before its 101 matches), interleaved: 55 ms against 78 for every row's own text,
    its eleven fields joined and lowered (a member's list: 34 against 53). Whether
    anything is queued is asked once (an InitPlan): with nothing queued, no row asks
    the queue."""
    any_queued = select(exists().select_from(QUEUE)).scalar_subquery()
    row = aliased(Resource)
    own = select(searched_text(row)).where(row.id == Resource.id).scalar_subquery()
    queued_here = and_(any_queued, Resource.id.in_(select(QUEUE.c.resource_id)))
    return case(
        (queued_here, own.ilike(pattern, escape="\\")),
        else_=_indexed_holds(pattern, body),
    )


def texts_walk(
    dialect: str, term: str, in_list: Any, first: int, last: int, descending: bool = False
) -> Select[Any] | CompoundSelect[Any]:
    """The ids of a broad term's list from ``first`` to ``last``, in id order
    (``descending``: from ``last`` down), walked on the index's texts rather than on
    the list's rows (``inventory/broad.py`` says when): ``in_list``, the list's WHERE
    clause without the term, is checked only on rows whose text holds it (SQLite) or
    beside the texts in one ordered pass (PostgreSQL).

    PostgreSQL joins the rows and their indexed texts in id order, both read from
    ``first`` on (the texts' range given explicitly: left to the planner, a merge
    join read them from the first id whatever the list's start, 134-370 ms at a
    million); a queued row is checked on its own text, as in the rows' walk
    (``_walked``). SQLite reads the term's matches from its FTS5 index in id order
    (no text that does not hold it is read at all; a term of fewer than three
    characters, which has no trigram, reads every text), each looked up by id and
    kept when the list holds it and it is not queued; the queued rows whose own
    text holds the term and the tagged ones are merged in. Either is exact at every
    moment, as the rows' walk is."""
    pattern = bindparam(None, like_pattern(term), String())
    tagged = _tagged(pattern)
    if dialect == "postgresql":
        texts = _TEXTS.alias("walked_texts")
        on = and_(
            texts.c.resource_id == Resource.id,
            texts.c.resource_id >= first,
            texts.c.resource_id <= last,
        )
        held = or_(_walked(pattern, texts.c.body), Resource.id.in_(tagged))
        query = (
            select(Resource.id)
            .outerjoin(texts, on)
            .where(Resource.id >= first, Resource.id <= last, in_list, held)
        )
        return query.order_by(Resource.id.desc() if descending else Resource.id)
    phrase = bindparam(None, fts_phrase(term), String())
    needle = bindparam(None, term.lower(), String())
    queue = select(QUEUE.c.resource_id)
    listed = (
        select(Resource.id)
        .where(Resource.id == _FTS.c.rowid, in_list, Resource.id.not_in(queue))
        .exists()
    )
    matched: ColumnElement[bool]
    if len(term) >= 3:
        matched = literal_column("resources_search").op("MATCH")(phrase)
    else:  # no trigram to look up: every indexed text is read
        matched = func.instr(func.lower(_FTS.c.body), needle) > 0
    indexed = select(_FTS.c.rowid.label("id")).where(
        matched,
        _FTS.c.rowid >= first,
        _FTS.c.rowid <= last,
        listed,
    )
    own = func.instr(func.lower(searched_text()), needle) > 0
    others = select(Resource.id.label("id")).where(
        Resource.id.in_(union_all(queue, tagged)),
        Resource.id >= first,
        Resource.id <= last,
        in_list,
        or_(and_(Resource.id.in_(queue), own), Resource.id.in_(tagged)),
    )
    by_id: ColumnElement[int] = literal_column("id")
    return union(indexed, others).order_by(by_id.desc() if descending else by_id)


def probed(term: str, limit: int) -> Any:
    """The ids of at most ``limit + 1`` indexed texts holding ``term`` (queued or not),
    as a CTE (PostgreSQL): :func:`broad_term`'s probe, read once by a statement that
    also lists a rarer term's matches from it (``counts.listed``). More than
    ``limit``: a broad term. Materialized: the statement reads it twice (its count
    and the list)."""
    matches = select(_TEXTS.c.resource_id).where(_indexed_holds(like_pattern(term)))
    return matches.limit(limit + 1).cte("probed").prefix_with("MATERIALIZED")


def broad_term(session: Session, term: str, limit: int) -> bool:
    """Whether more than ``limit`` indexed texts hold ``term`` (queued or not): a broad
    term (``vm-``, ``10.``), whose list is walked, not gathered (``inventory/broad.py``).

    The index is asked to count at most ``limit + 1`` matches, which ends as early as
    it can: a scan stopped at its ``limit + 1``-th match, or a rarer term's few
    entries. A rarer term's list then asks the index again, in one statement with the
    queue (a list read from ids found here could miss a match the indexers moved out
    of the queue in between). PostgreSQL asks it once, :func:`probed`'s matches and
    the list in one statement; this is SQLite's probe (FTS5's, ~1 ms)."""
    if session.get_bind().dialect.name == "postgresql":
        matched: Any = select(_TEXTS.c.resource_id).where(_indexed_holds(like_pattern(term)))
    elif len(term) >= 3:
        phrase = fts_phrase(term)
        matched = select(_FTS.c.rowid).where(literal_column("resources_search").op("MATCH")(phrase))
    else:
        matched = select(_FTS.c.rowid).where(func.instr(func.lower(_FTS.c.body), term.lower()) > 0)
    found = session.scalar(select(func.count()).select_from(matched.limit(limit + 1).subquery()))
    return int(found or 0) > limit


def index_queued(engine: Engine, limit: int = BATCH) -> int:
    """Move up to ``limit`` queued resources into the search index, in one
    transaction; how many were queued (0: the index is up to date)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            return _index_postgresql(connection, limit)
        return _index_sqlite(connection, limit)


def _index_sqlite(connection: Connection, limit: int) -> int:
    ids = list(connection.scalars(select(QUEUE.c.resource_id).limit(limit)))
    if ids:
        connection.execute(delete(_FTS).where(_FTS.c.rowid.in_(ids)))
        rows = select(Resource.id, searched_text()).where(Resource.id.in_(ids))
        connection.execute(_FTS.insert().from_select(["rowid", "body"], rows))
        connection.execute(delete(QUEUE).where(QUEUE.c.resource_id.in_(ids)))
    return len(ids)


SEARCH_LOCK = 0x45535341  # "ESSA": the advisory lock between indexers and deleters


def lock_out_indexers(session: Session) -> None:
    """Before deleting resources (a provider's removal): wait for the indexers'
    batches in flight and hold new ones off until commit. A batch reads resources its
    snapshot still shows and writes their texts; the deletion's trigger (migration
    0024) cannot see texts not yet committed, which would outlive their resources
    (harmless, never read, but kept). Before 0024 the tables' foreign keys made the
    two deadlock instead. SQLite has one writer at a time: nothing to do."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEARCH_LOCK})


def _index_postgresql(connection: Connection, limit: int) -> int:
    # Shared: indexers run side by side; a deleter (lock_out_indexers) waits for them.
    connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": SEARCH_LOCK})
    return int(connection.scalar(INDEX_A_BATCH, {"limit": limit}) or 0)


def _index_a_batch() -> Any:
    """One statement: take up to ``:limit`` queued ids (SKIP LOCKED: several indexers
    side by side never take the same ones), write their resources' texts, answer how
    many were taken. The ids never travel to the service and back (measured: 0.8 times
    the time of a first id list, then an ``IN`` of 5,000)."""
    queued_first = (
        select(QUEUE.c.resource_id)
        .order_by(QUEUE.c.resource_id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    # = ANY(ARRAY(…)): the ids are taken once (an InitPlan), then deleted by their
    # key. As "IN (SELECT …)" the planner, told by the statistics of a queue last seen
    # empty that it holds one row, ran the SELECT again for every queued row: a batch
    # took minutes with a million queued.
    taken = (
        delete(QUEUE)
        .where(QUEUE.c.resource_id == func.any(func.array(queued_first.scalar_subquery())))
        .returning(QUEUE.c.resource_id)
        .cte("taken")
    )
    rows = select(Resource.id, func.lower(searched_text())).join(
        taken, taken.c.resource_id == Resource.id
    )
    insert = pg_insert(_TEXTS).from_select(["resource_id", "body"], rows)
    written = insert.on_conflict_do_update(
        index_elements=["resource_id"], set_={"body": insert.excluded.body}
    ).cte("written")
    # A data-modifying CTE runs whether or not the statement reads it.
    return select(func.count()).select_from(taken).add_cte(written)


INDEX_A_BATCH = _index_a_batch()


def tidy_queue(engine: Engine) -> None:
    """After a backlog is drained: on PostgreSQL, vacuum the queue. Its deleted rows
    stay in its pages until vacuumed, and every search reads the queue (twice): with
    the 200,000 rows of a first collection drained, a search took 230-260 ms instead
    of 3 ms until autovacuum came by (a minute or more); the vacuum takes ~25 ms.
    SQLite frees a b-tree's emptied pages as it goes: nothing to do."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM resource_search_queue"))


def queued(engine: Engine) -> int:
    """How many resources wait for the search index."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(QUEUE)) or 0)


def index_all(engine: Engine) -> int:
    """Index everything queued now (a benchmark's or a test's way to wait)."""
    total = 0
    while done := index_queued(engine):
        total += done
    return total


__all__ = [
    "BATCH",
    "INDEX_A_BATCH",
    "SEARCHED",
    "Searched",
    "index_all",
    "index_queued",
    "like_pattern",
    "probed",
    "queued",
    "searched_text",
    "texts_walk",
    "tidy_queue",
]
