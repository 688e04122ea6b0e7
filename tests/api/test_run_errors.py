"""A run that fails in the database tells its readers a sentence, the service log the rest."""

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from factories import collect, create_provider

_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_resources BEFORE INSERT ON resources "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_resources() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'refused by the test trigger'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_resources BEFORE INSERT ON resources "
        "FOR EACH ROW EXECUTE FUNCTION refuse_resources()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_resources"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_resources ON resources",
        "DROP FUNCTION IF EXISTS refuse_resources()",
    ],
}


@pytest.fixture
def refusing_database(client: TestClient) -> Iterator[None]:
    """The service's database refuses every new resource (a trigger raises)."""
    engine: Engine = client.app.state.context.engine  # type: ignore[attr-defined]
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for statement in _REFUSE[dialect]:
            conn.exec_driver_sql(statement)
    yield
    with engine.begin() as conn:
        for statement in _ALLOW[dialect]:
            conn.exec_driver_sql(statement)


def test_a_run_the_database_refuses_has_a_short_message_without_sql(
    client: TestClient, refusing_database: None, caplog: pytest.LogCaptureFixture
) -> None:
    provider = create_provider(client)

    with caplog.at_level(logging.ERROR, logger="estate.jobs.collect"):
        run = collect(client, provider["id"])

    assert run["status"] == "failed"
    assert run["error_message"] == (
        "storing the collected resources failed: the database refused a write; "
        f"see the service log (run {run['id']})"
    )
    for text in (run["error_message"], run["log"]):
        assert "INSERT" not in text
        assert "refused by the test trigger" not in text
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert f"collection run {run['id']} failed" in logged
    assert "refused by the test trigger" in logged
