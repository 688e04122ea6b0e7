"""Deep numbered pages start at their block of ids (``resource_blocks``, migration
0022): page N of the resource list, of the web table and of
``resource-relationships/`` holds exactly the rows an OFFSET over the whole list
gives, for a system administrator, an organization's member and one provider,
through inserts, soft and hard deletions that the triggers must follow, on SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from estate.api.pagination import MAX_PAGE
from estate.config import Settings
from estate.db.engine import make_engine
from estate.db.models import Resource
from estate.inventory.blocks import SHALLOW
from factories import (
    API,
    BULK_AT,
    VIEWER,
    bulk_rows,
    collect,
    create_provider,
    insert_rows,
    log_in,
    ours_and_theirs,
)

SIZE = 1000  # the largest page: few requests reach beyond SHALLOW
TABLE = 50  # rows of the web table's page
ROW = re.compile(r'<td><a href="/resources/(\d+)">')
TOTAL = re.compile(r'<h1>Resources <span class="big">([\d,]+)</span>')


def _ids(engine: Engine, providers: list[int] | None, deleted: bool = False) -> list[int]:
    query = select(Resource.id).order_by(Resource.id)
    if providers is not None:
        query = query.where(Resource.provider_id.in_(providers))
    if not deleted:
        query = query.where(Resource.deleted_at.is_(None))
    with engine.connect() as conn:
        return list(conn.scalars(query))


def _edges(engine: Engine, providers: list[int] | None) -> list[tuple[int, str, str]]:
    query = (
        select(Resource.id, Resource.relationships)
        .where(Resource.deleted_at.is_(None), Resource.relationships.is_not(None))
        .order_by(Resource.id)
    )
    if providers is not None:
        query = query.where(Resource.provider_id.in_(providers))
    with engine.connect() as conn:
        return [(i, kind, target) for i, edges in conn.execute(query) for target, kind in edges]


def _deep_pages(total: int) -> list[int]:
    """The last page that starts before SHALLOW (an OFFSET's alone), the two after
    it, one in the middle, the last two, and two past the end."""
    first, last = -(-SHALLOW // SIZE), -(-total // SIZE)
    return [first, first + 1, first + 2, (first + last) // 2, last - 1, last, last + 1, last + 2]


def _assert_resource_pages(
    caller: TestClient, engine: Engine, providers: list[int] | None, **params: Any
) -> None:
    deleted = bool(params.get("include_deleted"))
    expected = _ids(engine, providers, deleted)
    assert len(expected) > SHALLOW + 2 * SIZE
    for page in _deep_pages(len(expected)):
        answer = caller.get(f"{API}/resources/", params={"page": page, "page_size": SIZE, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["count"] == len(expected)
        got = [item["id"] for item in body["results"]]
        assert got == expected[(page - 1) * SIZE : page * SIZE], (page, params)


def _assert_edge_pages(
    caller: TestClient, engine: Engine, providers: list[int] | None, **params: Any
) -> None:
    expected = _edges(engine, providers)
    assert len(expected) > SHALLOW + 2 * SIZE
    for page in _deep_pages(len(expected)):
        answer = caller.get(
            f"{API}/resource-relationships/", params={"page": page, "page_size": SIZE, **params}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["count"] == len(expected)
        got = [(e["source"], e["relationship_type"], e["target_ems_ref"]) for e in body["results"]]
        assert got == expected[(page - 1) * SIZE : page * SIZE], (page, params)


def _assert_table_pages(browser: TestClient, engine: Engine, providers: list[int]) -> None:
    """The web table's pages (50 rows) hold the same rows as the list's."""
    expected = _ids(engine, providers)
    first, last = -(-SHALLOW // TABLE), -(-len(expected) // TABLE)
    for number in (first, first + 1, (first + last) // 2, last, last + 1):
        html = browser.get("/resources", params={"page": number}, headers={"Accept": "text/html"})
        assert html.status_code == 200, html.text
        assert TOTAL.findall(html.text) == [f"{len(expected):,}"]
        shown = [int(i) for i in ROW.findall(html.text)]
        assert shown == expected[(number - 1) * TABLE : number * TABLE], number


def _assert_all(client: TestClient, member: TestClient, engine: Engine, mine: list[int]) -> None:
    _assert_resource_pages(client, engine, None)
    _assert_resource_pages(client, engine, None, include_deleted="true")
    _assert_resource_pages(member, engine, mine)
    _assert_edge_pages(client, engine, None)
    _assert_edge_pages(member, engine, mine)
    browser = TestClient(client.app)
    log_in(browser, *VIEWER)
    _assert_table_pages(browser, engine, mine)


def test_deep_pages_hold_what_an_offset_over_the_whole_list_holds(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    ours, theirs, _, member = ours_and_theirs(client, anonymous)
    engine = make_engine(settings.database)
    try:
        with engine.begin() as conn:
            insert_rows(conn, bulk_rows([ours[0], ours[1], ours[1], theirs], 14_000, 1))
        _assert_all(client, member, engine, ours)
        _assert_resource_pages(client, engine, [ours[1]], provider=ours[1])
        _assert_edge_pages(member, engine, [ours[1]], provider=ours[1])

        # The triggers follow every kind of write: deletions and restores, hard
        # deletions, edges changed, new rows in new blocks, a provider removed.
        with engine.begin() as conn:
            conn.execute(update(Resource).where(Resource.id % 5 == 0).values(deleted_at=BULK_AT))
            conn.execute(update(Resource).where(Resource.id % 9 == 4).values(deleted_at=None))
            conn.execute(delete(Resource).where(Resource.id % 13 == 1))
            conn.execute(
                update(Resource)
                .where(Resource.id % 11 == 0)
                .values(relationships=[["t-1", "runs_on"], ["t-2", "runs_on"], ["t", "member_of"]])
            )
            insert_rows(conn, bulk_rows([ours[1], theirs, ours[1]], 3_000, 200_000))
        assert client.delete(f"{API}/providers/{ours[0]}/").status_code == 204
        _assert_all(client, member, engine, ours[1:])
    finally:
        engine.dispose()


def test_the_last_page_number_allowed_answers_an_empty_page(client: TestClient) -> None:
    """Its offset (up to about 2 * 10**12) reaches the blocks' sum, which finds no
    block that far: an empty page with the list's count, on both lists, not an
    overflow."""
    provider = create_provider(client)
    assert collect(client, provider["id"])["status"] == "completed"
    for path in ("resources/", "resource-relationships/"):
        for size in (1, SIZE):
            answer = client.get(f"{API}/{path}", params={"page": MAX_PAGE, "page_size": size})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert (body["results"], body["next"]) == ([], None)
            assert body["count"] > 0
