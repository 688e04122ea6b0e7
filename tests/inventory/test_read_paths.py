"""The read paths of migration 0009 on a real database (SQLite and PostgreSQL):
``resource_counts`` (its resources and, since 0020, their edges) and
``resource_blocks`` (0022) stay exact through every kind of write, and ``search``
finds what a substring match finds, from the index."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, select, text, update
from sqlalchemy.orm import Session

from estate.config import Settings
from estate.context import Context
from estate.db.engine import make_engine
from estate.db.models import (
    CollectionRun,
    Organization,
    Provider,
    Resource,
    ResourceBlock,
    ResourceSeen,
    ResourceTag,
    Tag,
)
from estate.inventory.blocks import numbered_ids
from estate.inventory.broad import ByTexts
from estate.inventory.counts import counted, edges_counted, listed
from estate.inventory.ingest import Ingestor
from estate.inventory.queries import (
    FEW,
    INCOMING_LIMIT,
    ResourceFilter,
    providers_of_organizations,
    relationships_of,
    resource_query,
)
from estate.inventory.search import (
    INDEX_A_BATCH,
    index_all,
    index_queued,
    lock_out_indexers,
    queued,
    tidy_queue,
)
from estate.inventory.tags import TagMatch
from estate.jobs.indexer import SearchIndexer
from factories import bulk_rows, insert_rows


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _organization(session: Session, name: str) -> int:
    found = session.scalar(select(Organization.id).where(Organization.name == name))
    if found is not None:
        return found
    organization = Organization(name=name)
    session.add(organization)
    session.flush()
    return organization.id


def new_provider(engine: Engine, name: str, vendor: str = "simulated", org: str = "test") -> int:
    with Session(engine) as session, session.begin():
        provider = Provider(
            name=name,
            vendor=vendor,
            provider_type="datacenter",
            organization_id=_organization(session, org),
        )
        session.add(provider)
        session.flush()
        return provider.id


def collect(engine: Engine, provider_id: int, batch: Sequence[dict[str, Any]]) -> None:
    """One complete run of ``provider_id`` that sees exactly ``batch``."""
    with Session(engine) as session, session.begin():
        run = CollectionRun(provider_id=provider_id, status="running")
        session.add(run)
        session.flush()
        run_id = run.id
    ingestor = Ingestor(engine, provider_id=provider_id, run_id=run_id)
    ingestor.add_batch(list(batch))
    ingestor.finish(complete=True)


def edge(target: str, kind: str) -> dict[str, str]:
    return {"target_ems_ref": target, "relationship_type": kind}


def vm(ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "ems_ref": ref,
        "resource_type_slug": "virtual_machine",
        "name": ref,
        "state": "running",
        **fields,
    }


FILTERS = [
    ResourceFilter(),
    ResourceFilter(include_deleted=True),
    ResourceFilter(resource_type="virtual_machine"),
    ResourceFilter(resource_type="hypervisor_host", include_deleted=True),
    ResourceFilter(state="stopped"),
    ResourceFilter(state="running", os_type="linux"),
    ResourceFilter(os_type="windows"),
    ResourceFilter(region="eu-1"),
    ResourceFilter(vendor="aws"),
    ResourceFilter(vendor="simulated", state="running"),
]


def exact(session: Session, filters: ResourceFilter, visible: frozenset[int] | None) -> int:
    query = resource_query(filters)
    if visible is not None:
        seen = select(Provider.id).where(Provider.organization_id.in_(visible))
        query = query.where(Resource.provider_id.in_(seen))
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def visible_to(session: Session, filters: ResourceFilter, visible: frozenset[int] | None) -> int:
    """What counted() says for a caller seeing ``visible`` (None: all)."""
    if visible is not None:
        filters = replace(filters, providers=providers_of_organizations(session, visible))
    found = counted(session, filters)
    assert found is not None
    return found


def assert_counts_exact(engine: Engine) -> None:
    with Session(engine) as session:
        organizations = session.scalars(select(Organization.id)).all()
        scopes: list[frozenset[int] | None] = [None, *(frozenset({o}) for o in organizations)]
        providers = [None, *session.scalars(select(Provider.id)).all()]
        for filters, visible, provider in itertools.product(FILTERS, scopes, providers):
            filters = ResourceFilter(**{**_fields(filters), "provider": provider})
            assert visible_to(session, filters, visible) == exact(session, filters, visible), (
                filters,
                visible,
            )
        # resource_counts.edges: every edge the living resources declare (migration 0020).
        for visible, provider in itertools.product(scopes, providers):
            mine = None if visible is None else providers_of_organizations(session, visible)
            query = select(func.coalesce(func.sum(Resource.relationship_count), 0)).where(
                Resource.deleted_at.is_(None)
            )
            if mine is not None:
                query = query.where(Resource.provider_id.in_(mine))
            if provider is not None:
                query = query.where(Resource.provider_id == provider)
            assert edges_counted(session, provider, mine) == session.scalar(query), (
                visible,
                provider,
            )

    assert_blocks_exact(engine)


def assert_blocks_exact(engine: Engine) -> None:
    """resource_blocks (migration 0022) holds each (provider, block of ids, deleted)'s
    resources and edges, as the resources themselves say."""
    exact: Counter[tuple[int, int, bool, str]] = Counter()
    with Session(engine) as session:
        for resource_id, provider, deleted_at, edges in session.execute(
            select(
                Resource.id, Resource.provider_id, Resource.deleted_at, Resource.relationship_count
            )
        ):
            key = (provider, resource_id // ResourceBlock.SIZE, deleted_at is not None)
            exact[(*key, "n")] += 1
            exact[(*key, "edges")] += edges or 0
        kept: Counter[tuple[int, int, bool, str]] = Counter()
        for block in session.scalars(select(ResourceBlock)):
            key = (block.provider_id, block.block, block.deleted)
            kept[(*key, "n")] += block.n
            kept[(*key, "edges")] += block.edges
    assert +kept == +exact  # (+: without the keys left at 0)


def _fields(filters: ResourceFilter) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in filters.__slots__}


def test_counts_stay_exact_through_inserts_changes_deletions_and_restores(engine: Engine) -> None:
    dc = new_provider(engine, "dc")
    cloud = new_provider(engine, "cloud", vendor="aws", org="other")
    fleet = [
        vm(
            f"vm-{i}",
            os_type=("linux", "windows", None)[i % 3],
            region=("eu-1", None)[i % 2],
            relationships=[edge(f"h-{i % 3}", "runs_on"), edge("ds", "attached_to")][: i % 3],
        )
        for i in range(30)
    ]
    hosts = [{"ems_ref": f"h-{i}", "resource_type_slug": "hypervisor_host"} for i in range(3)]
    collect(engine, dc, fleet + hosts)
    collect(engine, cloud, fleet[:10])
    assert_counts_exact(engine)
    # State, os_type and region change; edges come and go; some disappear (deleted);
    # a host goes.
    changed = [
        {**r, "state": "stopped", "os_type": "windows", "region": "eu-1"} if i % 4 == 0 else r
        for i, r in enumerate(fleet[:20])
    ]
    changed = [
        {**r, "relationships": [edge("h-2", "runs_on")] * (i % 2)} if i % 5 == 0 else r
        for i, r in enumerate(changed)
    ]
    collect(engine, dc, changed + hosts[:2])
    assert_counts_exact(engine)
    # They come back (restored), and the type of one changes.
    collect(engine, dc, [*fleet, {**hosts[0], "resource_type_slug": "virtual_machine"}])
    assert_counts_exact(engine)
    # Writes outside ingest count too: a direct update, a delete, a provider's removal.
    with Session(engine) as session, session.begin():
        session.execute(update(Resource).where(Resource.ems_ref == "vm-3").values(state="error"))
        session.execute(delete(Resource).where(Resource.ems_ref == "vm-5"))
        session.execute(
            update(Resource)
            .where(Resource.ems_ref == "vm-7")
            .values(relationships=[["h-0", "runs_on"], ["h-1", "depends_on"], ["ds", "backs_up"]])
        )
    assert_counts_exact(engine)
    with Session(engine) as session, session.begin():
        session.execute(delete(Provider).where(Provider.id == cloud))
    assert_counts_exact(engine)
    with Session(engine) as session:
        assert counted(session, ResourceFilter(provider=cloud)) == 0


def test_a_filter_counts_cannot_answer_is_left_to_the_caller(engine: Engine) -> None:
    new_provider(engine, "dc")
    with Session(engine) as session:
        for filters in (
            ResourceFilter(search="web"),
            ResourceFilter(tags=(TagMatch(key="env"),)),
            ResourceFilter(os_type=""),
            ResourceFilter(region=""),
        ):
            assert counted(session, filters) is None, filters


FORMS = ("index", "walk", "texts")
"""A search's forms, which must find the same: from the index, and a broad term's two
walks, its rows each checked on its text and the index's texts each checked against
the list (``inventory/broad.py``)."""


def found(engine: Engine, term: str, form: str = "index", **filters: Any) -> list[str]:
    """The ems_refs a search in ``form`` (one of ``FORMS``) finds; the texts' walk
    finds them in id order forwards and backwards alike."""
    wanted = ResourceFilter(search=term, **filters)
    with Session(engine) as session:
        if form != "texts":
            query = resource_query(wanted, walk=form == "walk")
            return sorted(r.ems_ref for r in session.scalars(query))
        walk = ByTexts.of(session, wanted)
        if walk is None:
            return []
        ids = list(session.scalars(walk.ids()))
        backwards = list(session.scalars(walk.ids(before=walk.last + 1)))
        assert ids == sorted(ids) and backwards == ids[::-1], (ids, backwards)
        refs = select(Resource.ems_ref).where(Resource.id.in_(ids))
        return sorted(session.scalars(refs))


@pytest.fixture(params=["indexed", "queued"])
def searchable(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """Resources to search, either moved into the search index or still queued for it
    (ingest only queues them): a search finds the same either way."""
    dc = new_provider(engine, "dc")
    collect(
        engine,
        dc,
        [
            vm("vm-1", name="web-01", fqdn="web-01.Example.org", os_name="Ubuntu 22.04"),
            vm("vm-2", name="db_main", description="Primary 100% durable store"),
            vm("vm-3", name="cache", ip_addresses=["10.1.2.3"], mac_addresses=["00:50:56:aa"]),
            vm("vm-4", name="batch", vendor_type="VirtualMachine", cloud_tenant="Payments"),
            {"ems_ref": "host-9", "resource_type_slug": "hypervisor_host", "name": "esxi-9"},
            vm("vm-5", name="gone-web"),
        ],
    )
    # vm-5 is not seen again: deleted, and searched only with include_deleted.
    with Session(engine) as session:
        kept = session.scalars(select(Resource).where(Resource.ems_ref != "vm-5")).all()
        batch = [
            {
                "ems_ref": r.ems_ref,
                "resource_type_slug": r.resource_type,
                "name": r.name,
                "state": r.state,
                "fqdn": r.fqdn,
                "os_name": r.os_name,
                "description": r.description,
                "ip_addresses": r.ip_addresses,
                "mac_addresses": r.mac_addresses,
                "vendor_type": r.vendor_type,
                "cloud_tenant": r.cloud_tenant,
            }
            for r in kept
        ]
    collect(engine, dc, [{k: v for k, v in b.items() if v is not None} for b in batch])
    assert queued(engine) == 6
    if request.param == "indexed":
        assert index_all(engine) == 6
        assert queued(engine) == 0
    return engine


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("web", ["vm-1"]),  # name and fqdn; the deleted gone-web is not listed
        ("EXAMPLE.ORG", ["vm-1"]),  # case does not matter
        ("ubuntu", ["vm-1"]),  # os_name
        ("100%", ["vm-2"]),  # % is a character, not a wildcard
        ("db_", ["vm-2"]),  # and so is _
        ("b_m", ["vm-2"]),
        ("1.2.3", ["vm-3"]),  # an IP address inside the JSON list
        ("50:56", ["vm-3"]),  # a MAC address
        ("virtualmach", ["vm-4"]),  # vendor_type
        ("payments", ["vm-4"]),  # cloud_tenant
        ("esx", ["host-9"]),
        ("vm-", ["vm-1", "vm-2", "vm-3", "vm-4"]),  # ems_ref
        ("e", ["host-9", "vm-1", "vm-2", "vm-3", "vm-4"]),  # shorter than a trigram
        ("zz", []),
        ("nothing-like-it", []),
    ],
)
def test_search_finds_a_substring_of_any_searched_field(
    searchable: Engine, term: str, expected: list[str]
) -> None:
    for form in FORMS:
        assert found(searchable, term, form) == expected, form


def test_one_compiled_search_serves_every_term_with_its_own_values(searchable: Engine) -> None:
    """Terms of one shape share a cache key (the statement compiles once per engine)
    and each binds its own values: a term never answers with another's rows."""
    keys = {
        term: resource_query(ResourceFilter(search=term))._generate_cache_key()
        for term in ("web", "esx", "payments", "e", "zz")
    }
    assert None not in keys.values()
    assert len({k.key for t, k in keys.items() if len(t) >= 3}) == 1  # type: ignore[union-attr]
    assert len({k.key for t, k in keys.items() if len(t) < 3}) == 1  # type: ignore[union-attr]
    for _ in range(2):  # the second round from the engine's compiled cache
        assert found(searchable, "web") == ["vm-1"]
        assert found(searchable, "esx") == ["host-9"]
        assert found(searchable, "payments") == ["vm-4"]
        assert found(searchable, "nothing-like-it") == []
        assert found(searchable, "e") == ["host-9", "vm-1", "vm-2", "vm-3", "vm-4"]
        assert found(searchable, "zz") == []


def rename_and_tag(engine: Engine, renamed: tuple[str, str], tagged: tuple[str, str]) -> None:
    """Rename one resource (``(ems_ref, name)``: queued again for the index) and tag
    another (``(ems_ref, value)``: a tag ``ops:team`` of organization "test")."""
    with Session(engine) as session, session.begin():
        ref, name = renamed
        session.execute(update(Resource).where(Resource.ems_ref == ref).values(name=name))
        org = session.scalar(select(Organization.id).where(Organization.name == "test"))
        tag = Tag(organization_id=org, namespace="ops", key="team", value=tagged[1])
        session.add(tag)
        session.flush()
        resource = session.scalar(select(Resource.id).where(Resource.ems_ref == tagged[0]))
        session.add(ResourceTag(resource_id=resource, tag_id=tag.id))


def test_search_sees_deleted_resources_only_when_asked(searchable: Engine) -> None:
    for form in FORMS:
        assert found(searchable, "gone", form, include_deleted=True) == ["vm-5"]
        assert found(searchable, "gone", form) == []


def test_search_follows_renames_and_matches_user_tags(searchable: Engine) -> None:
    rename_and_tag(searchable, ("vm-4", "renamed"), ("vm-3", "Storage"))
    assert found(searchable, "renamed") == ["vm-4"]
    assert found(searchable, "batch") == []  # the index still says batch: it is queued
    index_all(searchable)
    assert found(searchable, "renamed") == ["vm-4"]
    assert found(searchable, "batch") == []
    for form in FORMS:
        assert found(searchable, "renamed", form) == ["vm-4"]
        assert found(searchable, "storage", form) == ["vm-3"]  # a tag's value
        assert found(searchable, "ops", form) == ["vm-3"]  # its namespace


def test_a_walk_reads_the_indexed_text_of_a_row_not_queued(engine: Engine) -> None:
    """On PostgreSQL a broad term's walk of the rows checks a row on its indexed text,
    looked up by its id, and a queued row on its own text (the indexed one may be
    stale); SQLite's reads every row's own text. The walk of the texts reads the
    indexed ones on both, and a queued row's own. Shown with an indexed text made to
    differ from its row, as no writer leaves it."""
    dc = new_provider(engine, "dc")
    collect(engine, dc, [vm("vm-1", name="web-01"), vm("vm-2", name="db-01")])
    index_all(engine)
    postgresql = engine.dialect.name == "postgresql"
    index, key = ("resource_search", "resource_id") if postgresql else ("resources_search", "rowid")
    with engine.begin() as conn:
        web = conn.scalar(select(Resource.id).where(Resource.ems_ref == "vm-1"))
        conn.execute(text(f"UPDATE {index} SET body = 'stale text' WHERE {key} = :id"), {"id": web})
    assert found(engine, "stale", "walk") == (["vm-1"] if postgresql else [])
    assert found(engine, "web-01", "walk") == ([] if postgresql else ["vm-1"])
    # The texts' walk reads the indexed text on both.
    assert found(engine, "stale", "texts") == ["vm-1"]
    assert found(engine, "web-01", "texts") == []
    with engine.begin() as conn:  # queued: its own text, on both, in either walk
        conn.execute(
            text("INSERT INTO resource_search_queue (resource_id) VALUES (:id)"), {"id": web}
        )
    for form in ("walk", "texts"):
        assert found(engine, "stale", form) == [], form
        assert found(engine, "web-01", form) == ["vm-1"], form
        assert found(engine, "db-01", form) == ["vm-2"], form  # not queued: its indexed text


def test_postgresql_keeps_texts_lowered_and_matches_case_as_its_ilike_does(
    postgresql_url: str,
) -> None:
    """The index holds each text lowered (migration 0025), matched with ``LIKE
    lower(pattern)``: PostgreSQL's ILIKE lowers both sides alike, so every form finds
    what ILIKE on the rows finds, letters beyond ASCII included, queued or indexed."""
    engine = make_engine(postgresql_url)
    try:
        dc = new_provider(engine, "lowered")
        names = {"ölv-1": "Öl-Pumpe WEST", "ölv-2": "öl-pumpe Ost", "ölv-3": "OEL-PUMPE"}
        collect(engine, dc, [vm(ref, name=name) for ref, name in names.items()])
        for state in ("queued", "indexed"):
            with engine.connect() as conn:
                sql = "SELECT ems_ref FROM resources WHERE name ILIKE '%öl-pumpe%' ORDER BY 1"
                assert list(conn.scalars(text(sql))) == ["ölv-1", "ölv-2"]
            for form in FORMS:
                assert found(engine, "ÖL-PUMPE", form) == ["ölv-1", "ölv-2"], (state, form)
                assert found(engine, "pumpe west", form) == ["ölv-1"], (state, form)
            index_all(engine)
        with engine.connect() as conn:
            bodies = list(
                conn.scalars(
                    text(
                        "SELECT s.body FROM resource_search s JOIN resources r "
                        "ON r.id = s.resource_id WHERE r.provider_id = :dc ORDER BY r.id"
                    ),
                    {"dc": dc},
                )
            )
        assert [b.splitlines()[0] for b in bodies] == [n.lower() for n in names.values()]
        assert all(b == b.lower() for b in bodies)
    finally:
        engine.dispose()


def _listed_with_statements(engine: Engine, term: str) -> tuple[Any, list[str]]:
    """``counts.listed`` of ``?search=term`` and the statements it sent."""
    sent: list[str] = []

    def grab(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as session:
            filters = ResourceFilter(search=term)
            return listed(session, filters, resource_query(filters)), sent
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def test_a_rarer_terms_list_reads_the_index_once_with_its_queued_and_tagged_matches(
    engine: Engine,
) -> None:
    """On PostgreSQL one statement asks the index whether the term is broad and lists
    its matches, the queued and tagged ones too; SQLite asks its FTS5 index, then
    lists."""
    dc = new_provider(engine, "dc")
    collect(engine, dc, [vm("vm-1", name="alpha-one"), vm("vm-2"), vm("vm-3"), vm("vm-4")])
    index_all(engine)
    rename_and_tag(engine, ("vm-2", "alpha"), ("vm-4", "Alphabet"))  # queued again, a tag
    with Session(engine) as session:
        refs = {ref: i for ref, i in session.execute(select(Resource.ems_ref, Resource.id))}

    listing, sent = _listed_with_statements(engine, "ALPHA")

    assert listing.few == [refs["vm-1"], refs["vm-2"], refs["vm-4"]]
    assert listing.total == 3 and not listing.estimated
    # PostgreSQL: one statement. SQLite: the probe, then the list.
    assert len(sent) == (1 if engine.dialect.name == "postgresql" else 2), sent
    assert all("search" in s for s in sent)


def test_more_queued_matches_than_few_are_listed_once_and_counted(engine: Engine) -> None:
    """After a first collection the index holds nothing yet: a term is not broad, but
    its queued matches are more than ``FEW``. PostgreSQL's one statement has read them
    up to ``FEW + 1``: they are counted next, not listed again."""
    dc = new_provider(engine, "dc")
    rows = bulk_rows([dc], FEW + 900, 1)
    for row in rows:
        row["description"] = "Window"
    with engine.begin() as conn:
        insert_rows(conn, rows)
    alive = sum(1 for row in rows if row["deleted_at"] is None)
    assert alive > FEW and queued(engine) == len(rows)

    listing, sent = _listed_with_statements(engine, "window")

    assert (listing.total, listing.few, listing.estimated) == (alive, None, False)
    # PostgreSQL: the probe and the list in one, then the count. SQLite: the probe,
    # the list (more than FEW), the count.
    assert len(sent) == (2 if engine.dialect.name == "postgresql" else 3), sent


def test_search_reads_the_index_not_the_rows(searchable: Engine) -> None:
    """The plan of a search names the index: the FTS5 table on SQLite, the trigram
    GIN index on PostgreSQL. There the indexed matches leave out the queued ones by an
    anti-join: a NOT IN subplan, with a queue too big to hash, read the whole queue
    again for every match."""
    query = resource_query(ResourceFilter(search="web-01"))
    with searchable.connect() as connection:
        compiled = query.compile(connection)
        sql = str(compiled)
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
            plan = connection.exec_driver_sql(f"EXPLAIN {sql}", compiled.params).all()
            assert any("ix_resource_search_body" in row[0] for row in plan), plan
            assert any("Anti Join" in row[0] for row in plan), plan
            assert not any("SubPlan" in row[0] for row in plan), plan
        else:
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            details = [row[3] for row in plan]
            assert any("resources_search VIRTUAL TABLE INDEX 0:M" in d for d in details), plan
            assert not any(d.split()[:2] == ["SCAN", "resources"] for d in details), plan


def _search_rows(engine: Engine) -> tuple[set[int], set[int]]:
    """The ids in the search queue and in the search index."""
    index = "resources_search" if engine.dialect.name == "sqlite" else "resource_search"
    key = "rowid" if engine.dialect.name == "sqlite" else "resource_id"
    with engine.connect() as connection:
        queue = set(connection.scalars(text("SELECT resource_id FROM resource_search_queue")))
        indexed = set(connection.scalars(text(f"SELECT {key} FROM {index}")))
    return queue, indexed


def _queue_pages(engine: Engine) -> int:
    """The pages the search queue's table takes (its rows, live or deleted)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = "SELECT count(*) FROM dbstat WHERE name = 'resource_search_queue'"
        else:
            sql = "SELECT pg_relation_size('resource_search_queue') / 8192"
        return int(connection.scalar(text(sql)) or 0)


def test_the_services_indexers_empty_the_queue(settings: Settings) -> None:
    """As many as the service runs (two on PostgreSQL), in small batches: each takes
    its own, and every resource is indexed once."""
    engine = make_engine(settings.database)
    dc = new_provider(engine, "dc")
    collect(engine, dc, [vm(f"vm-{i}") for i in range(60)])
    assert queued(engine) == 60
    context = Context.from_settings(settings)
    indexers = [SearchIndexer(context, n, batch=7) for n in range(settings.indexers)]
    assert len(indexers) == (1 if engine.dialect.name == "sqlite" else 2)
    for indexer in indexers:
        indexer.start()
    try:
        deadline = time.monotonic() + 30
        while queued(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for indexer in indexers:
            indexer.stop()
        context.close()
    with Session(engine) as session:
        ids = set(session.scalars(select(Resource.id)))
    assert _search_rows(engine) == (set(), ids)
    assert found(engine, "vm-59") == ["vm-59"]  # from the index: nothing is queued
    engine.dispose()


def test_a_drained_backlog_leaves_no_pages_for_searches_to_read(settings: Settings) -> None:
    """Every search reads the queue: on PostgreSQL its deleted rows stayed in its
    pages until autovacuum came by (a search 230-260 ms instead of 3 at 200,000), so
    the indexer vacuums it once a backlog is drained."""
    engine = make_engine(settings.database)
    collect(engine, new_provider(engine, "dc"), [vm(f"vm-{i}") for i in range(1500)])
    assert _queue_pages(engine) > 2
    context = Context.from_settings(settings)
    indexer = SearchIndexer(context, batch=400)
    indexer.start()
    try:
        deadline = time.monotonic() + 30
        while (queued(engine) or _queue_pages(engine) > 1) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        indexer.stop()
        context.close()
    assert queued(engine) == 0
    assert _queue_pages(engine) <= 1
    engine.dispose()


def test_a_batch_takes_its_ids_once_whatever_the_statistics_say(engine: Engine) -> None:
    """A queue vacuumed empty, then filled: as ``IN (SELECT … LIMIT)`` PostgreSQL
    planned a semi join that ran the SELECT again for every queued row (a batch took
    minutes with a million queued). As ``= ANY(ARRAY(…))`` the ids are an InitPlan,
    taken once, whatever the estimate."""
    dc = new_provider(engine, "dc")
    collect(engine, dc, [vm(f"vm-{i}") for i in range(50)])
    index_all(engine)
    tidy_queue(engine)  # its statistics now say: empty
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO resource_search_queue SELECT id FROM resources"))
    if engine.dialect.name == "postgresql":
        statement = INDEX_A_BATCH.compile(dialect=engine.dialect)
        with engine.connect() as connection:
            plan = "\n".join(
                row[0]
                for row in connection.exec_driver_sql(f"EXPLAIN {statement}", {"limit": 5000})
            )
        assert "InitPlan" in plan and "Semi Join" not in plan and "SubPlan" not in plan, plan
    assert index_queued(engine, limit=30) == 30
    assert index_all(engine) == 20
    with Session(engine) as session:
        assert _search_rows(engine) == (set(), set(session.scalars(select(Resource.id))))


def test_deleted_resources_leave_neither_queue_nor_index_rows(engine: Engine) -> None:
    """Since 0024 on PostgreSQL a statement trigger, not a foreign key, follows the
    deletions; a provider's removal deletes thousands of resources in one statement."""
    dc, cloud = new_provider(engine, "dc"), new_provider(engine, "cloud")
    collect(engine, dc, [vm(f"vm-{i}") for i in range(30)])
    collect(engine, cloud, [vm(f"i-{i}") for i in range(20)])
    # Half of them indexed, the rest still queued, on both providers.
    index_queued(engine, limit=25)
    queue, indexed = _search_rows(engine)
    assert len(queue) == 25 and len(indexed) == 25
    with Session(engine) as session:
        cloud_ids = set(session.scalars(select(Resource.id).where(Resource.provider_id == cloud)))
        vm_3 = session.scalar(select(Resource.id).where(Resource.ems_ref == "vm-3"))
        vm_29 = session.scalar(select(Resource.id).where(Resource.ems_ref == "vm-29"))
    assert cloud_ids & queue and vm_3 in indexed and vm_29 in queue
    with Session(engine) as session, session.begin():
        lock_out_indexers(session)  # as the provider's removal does
        session.execute(delete(Provider).where(Provider.id == cloud))
        session.execute(delete(Resource).where(Resource.id.in_([vm_3, vm_29])))
    queue_after, indexed_after = _search_rows(engine)
    gone = cloud_ids | {vm_3, vm_29}
    assert queue_after == queue - gone and indexed_after == indexed - gone
    assert index_all(engine) == len(queue_after)
    with Session(engine) as session:
        left = set(session.scalars(select(Resource.id)))
    assert _search_rows(engine) == (set(), left)


@pytest.mark.parametrize(
    ("database_url", "setting", "indexers"),
    [
        (None, None, 1),  # the embedded SQLite: one writer
        ("sqlite:////tmp/estate.db", 1, 1),
        ("postgresql+psycopg://estate@127.0.0.1/estate", None, 2),
        ("postgresql+psycopg://estate@127.0.0.1/estate", 4, 4),
    ],
)
def test_the_default_search_indexers_follow_the_database(
    tmp_path: Path, database_url: str | None, setting: int | None, indexers: int
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, search_indexers=setting)
    assert settings.indexers == indexers


def test_a_detail_shows_the_edges_of_the_first_pointing_resources(engine: Engine) -> None:
    dc = new_provider(engine, "dc")
    net = {"ems_ref": "net-1", "resource_type_slug": "network", "name": "port group"}
    uses = [{"target_ems_ref": "net-1", "relationship_type": "connected_to"}]
    fleet = [vm(f"vm-{i:03d}", relationships=uses) for i in range(INCOMING_LIMIT + 5)]
    collect(engine, dc, [net, *fleet])
    with Session(engine) as session:
        network = session.scalars(select(Resource).where(Resource.ems_ref == "net-1")).one()
        edges, complete = relationships_of(session, network)
        assert not complete
        shown = sorted(e["ems_ref"] for e in edges)
        assert shown == [f"vm-{i:03d}" for i in range(INCOMING_LIMIT)]  # first by ems_ref
        first = session.scalars(select(Resource).where(Resource.ems_ref == "vm-000")).one()
        edges, complete = relationships_of(session, first)
        assert complete
        assert [(e["direction"], e["ems_ref"]) for e in edges] == [("outgoing", "net-1")]


def test_a_sort_by_last_seen_pages_the_resources_last_seen_first_and_reads_its_index(
    engine: Engine,
) -> None:
    """Last seen is ``resource_seen``'s (a table apart, models.ResourceSeen): a sort by
    it joins that table and breaks ties on its copy of the id, so that SQLite walks
    its last-seen index to the page rather than sorting every resource; the pages
    are the same either way round, and a resource seen again moves to the end."""
    dc, lab = new_provider(engine, "dc"), new_provider(engine, "lab")
    collect(engine, dc, [vm(f"vm-{i}") for i in range(6)])
    collect(engine, lab, [vm(f"lab-{i}") for i in range(4)])
    collect(engine, dc, [vm(f"vm-{i}") for i in range(3)])  # vm-3 … vm-5 deleted
    filters = ResourceFilter()
    latest = [ResourceSeen.last_seen_at.desc(), Resource.id.desc()]
    earliest = [ResourceSeen.last_seen_at.asc(), Resource.id.asc()]

    with Session(engine) as session:

        def page(offset: int, limit: int, order: list[Any]) -> list[str]:
            ids = numbered_ids(session, resource_query(filters), filters, offset, limit, order)
            names = dict(session.execute(select(Resource.id, Resource.name)).all())
            return [names[i] for i in session.scalars(ids)]

        backwards = page(0, 4, latest) + page(4, 4, latest) + page(8, 4, latest)
        forwards = page(0, 100, earliest)
        if engine.dialect.name == "sqlite":
            query = numbered_ids(session, resource_query(filters), filters, 0, 4, latest)
            compiled = query.compile(engine)
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            connection = session.connection()
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
            details = " ".join(row[3] for row in plan)
            assert "ix_resource_seen_last_seen" in details, plan
            assert "TEMP B-TREE" not in details, plan

    assert backwards == ["vm-2", "vm-1", "vm-0", "lab-3", "lab-2", "lab-1", "lab-0"]
    assert forwards == backwards[::-1]
