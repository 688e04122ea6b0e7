"""``db.among``: one of a list bound as one parameter, on SQLite and PostgreSQL — the
same rows as an ``IN`` of the values, through one statement text whatever the list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import StatementError

from estate.config import Settings
from estate.db.among import among
from estate.db.engine import make_engine
from estate.db.models import Provider, Resource
from factories import bulk_rows, create_provider, insert_rows


@pytest.fixture
def engine(client: TestClient, settings: Settings) -> Iterator[Engine]:
    """2,000 resources of two providers (ids 1 to 2,000, ems_refs ``r-1-0`` …)."""
    providers = [create_provider(client, name=f"p-{i}")["id"] for i in range(2)]
    engine = make_engine(settings.database)
    with engine.begin() as conn:
        insert_rows(conn, bulk_rows(providers, 2_000, 1))
    yield engine
    engine.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen


ID_LISTS = [
    [],
    [7],
    [5, 5, 3],  # duplicates
    [*range(1, 2_001, 13), 2**40, 999_999],  # 154 ids, two of none
]


def test_ids_are_the_rows_an_in_finds_through_one_statement(engine: Engine) -> None:
    seen = _statements(engine)
    by_name = select(Resource.id).where(among(Resource.id, "ids")).order_by(Resource.id)
    with engine.connect() as conn:
        for ids in ID_LISTS:
            expected = conn.scalars(
                select(Resource.id).where(Resource.id.in_(ids)).order_by(Resource.id)
            ).all()
            assert conn.scalars(by_name, {"ids": ids}).all() == expected
            built = select(Resource.id).where(among(Resource.id, values=ids))
            assert conn.scalars(built.order_by(Resource.id)).all() == expected
            assert len(expected) == len({i for i in ids if i <= 2_000})
    ours = [s for s in seen if "json_each" in s or "ANY(" in s]
    # One text for every list, no placeholder per value: each form's (a named
    # parameter, an anonymous one; the same text on SQLite) ran once a list.
    assert len(ours) == 2 * len(ID_LISTS)
    assert set(Counter(ours).values()) <= {len(ID_LISTS), 2 * len(ID_LISTS)}


def test_texts_and_integer_columns(engine: Engine) -> None:
    with engine.connect() as conn:
        refs = ["r-1-0", "r-1-1999", "r-1-0", "no such", 'it\'s "quoted"', "é-ü", ""]
        found = conn.scalars(select(Resource.ems_ref).where(among(Resource.ems_ref, values=refs)))
        assert sorted(found) == ["r-1-0", "r-1-1999"]
        providers = conn.scalars(select(Provider.id)).all()
        assert len(providers) == 2
        picked = select(Provider.id).where(among(Provider.id, "ids"))
        assert conn.scalars(picked, {"ids": [providers[1], 0]}).all() == [providers[1]]
        # Beside other conditions, negated.
        kept = select(Resource.id).where(
            Resource.provider_id == providers[0], ~among(Resource.id, values=range(1, 700))
        )
        assert min(conn.scalars(kept)) > 699


def test_misuse_is_refused(engine: Engine) -> None:
    with pytest.raises(TypeError, match="one of them"):
        among(Resource.id)
    with pytest.raises(TypeError, match="one of them"):
        among(Resource.id, "ids", values=[1])
    with engine.connect() as conn, pytest.raises(StatementError, match="needs a list"):
        conn.execute(select(Resource.id).where(among(Resource.id, "ids")), {"ids": None})
