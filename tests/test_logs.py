"""estate.logs: one handler for every logger, text or one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from estate.logs import configure


@pytest.fixture
def restored() -> Iterator[None]:
    """Put the root and uvicorn loggers back as they were (pytest's own handlers too)."""
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    uvicorn = logging.getLogger("uvicorn.error")
    kept_uvicorn = (list(uvicorn.handlers), uvicorn.propagate)
    alembic = logging.getLogger("alembic.runtime.plugins")
    kept_alembic = alembic.level
    yield
    alembic.setLevel(kept_alembic)
    root.handlers[:], root.level = kept[0], kept[1]
    uvicorn.handlers[:], uvicorn.propagate = kept_uvicorn


def test_json_lines_with_the_exception(restored: None) -> None:
    stream = io.StringIO()
    configure("info", "json", stream)

    logging.getLogger("estate.test").info("hello %s", "world")
    logging.getLogger("estate.test").debug("not shown")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("estate.jobs").exception("job failed")

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "estate.test",
        "message": "hello world",
    }
    assert first["time"].endswith("+00:00")
    assert "exc_info" not in first
    assert second["level"] == "ERROR"
    assert "ValueError: boom" in second["exc_info"]


def test_uvicorn_goes_through_the_same_handler(restored: None) -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.NullHandler())
    stream = io.StringIO()
    configure("warning", "text", stream)

    logging.getLogger("uvicorn.error").warning("port busy")
    logging.getLogger("estate.access").info("below the level")
    configure("info", "text", stream)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")

    (line,) = stream.getvalue().splitlines()
    assert line.endswith("WARNING uvicorn.error: port busy")
    assert logging.getLogger("uvicorn.error").handlers == []
