"""A broad search term (more than ``FEW`` indexed matches) walks the list in id order,
each row checked on its text, and estimates its count from a sample: the same
items as the term's matches, page by page and by cursor, for every caller's own
resources, with a count close to the truth that is said to be an estimate
(``X-Count-Estimated``) and made exact by the page that ends the list; on SQLite
and PostgreSQL. A rarer term keeps its exact count."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from estate.api.answers import ESTIMATED_HEADER
from estate.config import Settings
from estate.db.engine import make_engine
from estate.db.models import Resource
from estate.inventory.broad import KEPT_S, Sample, walks_texts
from estate.inventory.queries import FEW
from estate.inventory.search import broad_term, index_queued, queued
from factories import (
    API,
    bulk_rows,
    create_provider,
    insert_rows,
    log_in,
    ours_and_theirs,
    request_statements,
)

RESOURCES = f"{API}/resources/"


def _expected(engine: Engine, term: str, providers: list[int] | None) -> list[int]:
    """The ids the list must hold, worked out here from the rows' own fields."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Resource.id, Resource.provider_id, Resource.name, Resource.description).where(
                Resource.deleted_at.is_(None)
            )
        )
        return sorted(
            i
            for i, provider, name, description in rows
            if (providers is None or provider in providers)
            and term in f"{name}\n{description or ''}".lower()
        )


def _pages(client: TestClient, params: dict[str, Any]) -> tuple[list[int], list[Any]]:
    """Every id of a list by its ``next`` links, and each page's (count, estimated)."""
    ids: list[int] = []
    seen: list[Any] = []
    answer = client.get(RESOURCES, params=params)
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        ids.extend(item["id"] for item in body["results"])
        seen.append((body["count"], answer.headers.get(ESTIMATED_HEADER) == "true"))
        if not body["next"]:
            return ids, seen
        answer = client.get(body["next"])


def _back(client: TestClient, params: dict[str, Any]) -> list[int]:
    """Every id of a cursor list from its last page back by ``previous`` links."""
    body = client.get(RESOURCES, params=params).json()
    while body["next"]:
        body = client.get(body["next"]).json()
    ids = [item["id"] for item in body["results"]]
    while body["previous"]:
        body = client.get(body["previous"]).json()
        ids[:0] = [item["id"] for item in body["results"]]
    return ids


def _indexed(engine: Engine) -> None:
    """Indexed here and by the service's indexers, until none is left queued; and on
    PostgreSQL analyzed, as a collection's ingest analyzes what it inserts (rows
    written straight into the table leave the planner thinking it nearly empty)."""
    deadline = time.monotonic() + 60
    while index_queued(engine) or queued(engine):
        assert time.monotonic() < deadline, "the search index did not catch up"
        time.sleep(0.05)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE resources, resource_search")


def _walk(statement: str) -> str | None:
    """How a statement walks a list in id order: ``rows``, the resources' ids each
    checked on its text (not gathered from the search index's matches: SQLite's FTS5
    table ``resources_search``, PostgreSQL's union of the index's matches and the
    queued rows'); ``texts``, the index's texts read in id order beside the rows
    (PostgreSQL) or the term's matches in id order (SQLite); None: not a walk."""
    if "walked_texts" in statement or statement.startswith("SELECT resources_search.rowid AS id"):
        return "texts"
    gathered = "resources_search" in statement or "UNION ALL" in statement
    return "rows" if statement.startswith("SELECT resources.id") and not gathered else None


def _assert_list(client: TestClient, expected: list[int], walk: str, **params: Any) -> None:
    """The list of ``params`` holds ``expected`` by numbered pages, by cursor and back,
    walked ``walk``: on its ``rows`` or on the index's ``texts``."""
    with request_statements(client) as sent:
        assert client.get(RESOURCES, params=params).status_code == 200
    assert {_walk(s.statement) for s in sent} - {None} == {walk}, [
        " ".join(s.statement.split())[:300] for s in sent if _walk(s.statement)
    ]
    by_number, numbered = _pages(client, {**params, "page": 1, "page_size": 1000})
    by_cursor, cursored = _pages(client, {**params, "page_size": 1000})
    assert by_number == expected, params
    assert by_cursor == expected, params
    assert _back(client, {**params, "page_size": 1000}) == expected, params
    # An estimate on every page but the last numbered one, which is exact.
    *estimates, last = numbered
    assert last == (len(expected), False), params
    assert estimates and all(guessed for _, guessed in estimates), params
    assert len({count for count, _ in estimates + cursored}) == 1, params
    estimate = estimates[0][0]
    assert abs(estimate - len(expected)) <= 0.1 * len(expected), (estimate, len(expected))


def test_a_broad_term_pages_its_matches_with_an_estimated_count(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    ours, theirs, _, member = ours_and_theirs(client, anonymous)
    rows = bulk_rows([ours[0], ours[1], theirs], 14_000, 1)
    for row in rows:  # every other one: more than FEW matches, a share well below 1
        row["description"] = "Even" if row["id"] % 2 == 0 else None
    engine = make_engine(settings.database)
    try:
        with engine.begin() as conn:
            insert_rows(conn, rows)
        _indexed(engine)
        with Session(engine) as session:
            assert broad_term(session, "even", FEW)
            assert not broad_term(session, "r-1234", FEW)
        mine = _expected(engine, "even", ours)
        assert len(mine) > 2000 and len(_expected(engine, "even", None)) > FEW

        # Lists of most ids walk the texts; on PostgreSQL a third of them the rows
        # (SQLite reads only the term's matches, half the ids: still the texts).
        postgresql = engine.dialect.name == "postgresql"
        third = "rows" if postgresql else "texts"
        _assert_list(client, _expected(engine, "even", None), "texts", search="even")
        ours_1 = _expected(engine, "even", [ours[1]])
        _assert_list(client, ours_1, third, search="EVEN", provider=ours[1])
        _assert_list(member, mine, "texts", search="even")

        # Rows changed since they were indexed (queued, or indexed again meanwhile by
        # the service's indexers): either walk finds them by their new text.
        with engine.begin() as conn:
            for row in rows[:3000:50]:
                description = None if row["description"] else "now even"
                conn.execute(
                    update(Resource).where(Resource.id == row["id"]).values(description=description)
                )
        _assert_list(client, _expected(engine, "even", None), "texts", search="even")
        _assert_list(
            client, _expected(engine, "even", [ours[1]]), third, search="even", provider=ours[1]
        )

        # A rare term: exact, and no estimate said.
        rare = client.get(RESOURCES, params={"search": "r-1234"})
        assert rare.status_code == 200
        assert ESTIMATED_HEADER not in rare.headers
        assert [r["id"] for r in rare.json()["results"]] == _expected(engine, "r-1234", None)
        assert rare.json()["count"] == len(_expected(engine, "r-1234", None))

        # The web UI says "about" before the estimated count.
        log_in(anonymous)
        page = anonymous.get("/resources", params={"search": "even"})
        assert page.status_code == 200
        assert ">about " in page.text
        exact = anonymous.get("/resources", params={"search": "r-1234"})
        assert exact.status_code == 200 and ">about " not in exact.text
    finally:
        engine.dispose()


def test_a_list_that_holds_few_of_a_broad_terms_matches_gathers_them(
    client: TestClient, settings: Settings
) -> None:
    """A filter that leaves few of a broad term's matches would walk its every row to
    fill a page: the sample says so, and the list is gathered from the index instead,
    its count exact."""
    provider = create_provider(client)["id"]
    engine = make_engine(settings.database)
    try:
        rows = bulk_rows([provider], 40_000, 1)
        for row in rows:  # every row with the same keys: one INSERT's many values
            row["description"] = "Seven" if row["id"] % 7 == 0 else None
            if row["id"] % 7 != 0 or row["id"] % 343 == 0:  # one in 49 of the term's
                row["state"] = "stopped"
        with engine.begin() as conn:
            insert_rows(conn, rows)
        _indexed(engine)
        expected = [i for i in _expected(engine, "seven", None) if i % 343 == 0]
        assert 0 < len(expected) < 200 and len(_expected(engine, "seven", None)) > FEW

        with request_statements(client) as sent:
            answer = client.get(RESOURCES, params={"search": "seven", "state": "stopped"})
        assert answer.status_code == 200, answer.text
        walked = [s.statement for s in sent if _walk(s.statement)]
        assert walked == [], walked  # gathered from the index, not walked
        assert ESTIMATED_HEADER not in answer.headers
        assert answer.json()["count"] == len(expected)
        assert [r["id"] for r in answer.json()["results"]] == expected[:100]
        # Without the filter the same term walks, its count estimated.
        with request_statements(client) as sent:
            every = client.get(RESOURCES, params={"search": "seven"})
        assert every.headers.get(ESTIMATED_HEADER) == "true"
        assert {_walk(s.statement) for s in sent} - {None} == {"texts"}
    finally:
        engine.dispose()


def test_a_small_list_of_a_broad_term_is_walked_once_for_its_count_and_its_pages(
    client: TestClient, settings: Settings
) -> None:
    """A filter whose list the sample cannot estimate (its rows not spread over the
    ids: a few hosts among many machines) is counted by walking it; its few matches,
    read by that walk, are its pages too: one walk, where a count walked the whole
    list and a page walked it again (``vm-&resource_type=hypervisor_host`` at a
    million: two walks of every host)."""
    provider = create_provider(client)["id"]
    engine = make_engine(settings.database)
    try:
        rows = bulk_rows([provider], 12_000, 1)
        for i, row in enumerate(rows):
            row["description"] = "Even" if row["id"] % 2 == 0 else None
            row["resource_type"] = "hypervisor_host" if i < 300 else "virtual_machine"
        with engine.begin() as conn:
            insert_rows(conn, rows)
        _indexed(engine)
        hosts = {row["id"] for row in rows[:300]}
        expected = [i for i in _expected(engine, "even", None) if i in hosts]
        assert 100 < len(expected) < 300 and len(_expected(engine, "even", None)) > FEW
        params = {"search": "even", "resource_type": "hypervisor_host", "page_size": 100}

        with request_statements(client) as sent:
            answer = client.get(RESOURCES, params=params)

        assert answer.status_code == 200, answer.text
        walks = [_walk(s.statement) for s in sent if _walk(s.statement)]
        assert walks == ["rows"], walks
        counts = [s for s in sent if s.statement.startswith("SELECT count(*)")]
        assert not [s for s in counts if "FROM (SELECT resources.id" in s.statement], counts
        assert ESTIMATED_HEADER not in answer.headers
        assert answer.json()["count"] == len(expected)
        by_number, numbered = _pages(client, {**params, "page": 1})
        by_cursor, cursored = _pages(client, params)
        assert by_number == by_cursor == _back(client, params) == expected
        assert set(numbered + cursored) == {(len(expected), False)}
    finally:
        engine.dispose()


def test_the_sample_says_which_walk_costs_less() -> None:
    """The rows' walk reads the list's rows, the texts' walk every row of the list's
    range on PostgreSQL (in the list or not) and every match of the term on SQLite,
    each at its cost a row (``broad.ROW_COST``, ``broad.TEXT_COST``)."""
    every = Sample(listed=1000, matched=970, anywhere=970, weight=1000.0, rows=1000)
    a_fifth = Sample(listed=200, matched=194, anywhere=970, weight=1000.0, rows=1000)
    a_tenth = Sample(listed=100, matched=97, anywhere=970, weight=1000.0, rows=1000)
    sparse_ids = Sample(listed=300, matched=150, anywhere=150, weight=1000.0, rows=330)
    assert walks_texts("postgresql", "vm-", every)
    assert not walks_texts("postgresql", "vm-", a_fifth)  # 400 µs of texts, 220 of rows
    assert walks_texts("postgresql", "vm-", sparse_ids)  # the texts of rows only, not ids
    assert walks_texts("sqlite", "vm-", every)
    assert walks_texts("sqlite", "vm-", a_fifth)  # 970 matches against 1,060 of rows
    assert not walks_texts("sqlite", "vm-", a_tenth)
    assert not walks_texts("sqlite", "vm", every)  # no trigram: every text read
    assert walks_texts("postgresql", "vm", every)


def _asked(sent: list[Any]) -> set[str]:
    """Which of a broad term's steps a request's statements made: ``probe`` (is the
    term broad?), ``sample`` (its estimate) and ``walk`` (its page)."""
    steps = set()
    for statement in (" ".join(s.statement.split()) for s in sent):
        if "probed" in statement or statement.startswith("SELECT count(*) AS count_1 FROM ("):
            steps.add("probe")
        if "FILTER (WHERE" in statement:
            steps.add("sample")
        if _walk(statement):
            steps.add("walk")
    return steps


def test_a_broad_terms_estimate_is_kept_a_few_seconds_and_its_walk_made_afresh(
    client: TestClient, settings: Settings
) -> None:
    """The same list asked again within ``KEPT_S`` says the same estimate without
    probing or sampling again; its walk is made afresh (rows added meanwhile are
    listed); after ``KEPT_S`` it is estimated anew."""
    provider = create_provider(client)["id"]
    engine = make_engine(settings.database)
    try:
        rows = bulk_rows([provider], 12_000, 1)
        for row in rows:
            row["description"] = "Even" if row["id"] % 2 == 0 else None
        with engine.begin() as conn:
            insert_rows(conn, rows)
        _indexed(engine)
        with request_statements(client) as sent:
            first = client.get(RESOURCES, params={"search": "even"})
        estimated_at = time.monotonic()
        assert first.headers.get(ESTIMATED_HEADER) == "true"
        assert _asked(sent) == {"probe", "sample", "walk"}
        estimate = first.json()["count"]

        later = bulk_rows([provider], 300, rows[-1]["id"] + 1)
        for row in later:
            row["ems_ref"], row["description"] = f"later-{row['id']}", "even later"
        with engine.begin() as conn:
            insert_rows(conn, later)
        _indexed(engine)
        expected = _expected(engine, "even", None)
        with request_statements(client) as sent:
            again = client.get(RESOURCES, params={"search": "even"})
        assert _asked(sent) == {"walk"}
        assert again.json()["count"] == estimate
        assert again.headers.get(ESTIMATED_HEADER) == "true"
        by_cursor, counts = _pages(client, {"search": "even", "page_size": 1000})
        assert by_cursor == expected  # the later rows too
        assert {count for count, _ in counts} == {estimate}
        assert time.monotonic() - estimated_at < KEPT_S  # (else the test proves nothing)

        time.sleep(max(0.0, estimated_at + KEPT_S - time.monotonic()) + 0.1)
        with request_statements(client) as sent:
            anew = client.get(RESOURCES, params={"search": "even"})
        assert _asked(sent) == {"probe", "sample", "walk"}
        assert abs(anew.json()["count"] - len(expected)) <= 0.1 * len(expected)
    finally:
        engine.dispose()
