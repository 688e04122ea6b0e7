"""Apply Alembic migrations programmatically (``estate serve`` and ``estate db upgrade``)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call at every start."""
    command.upgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head() -> str | None:
    """The revision the migrations end at (read once; they do not change while running)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def pending_revision(engine: Engine) -> tuple[str | None, str | None] | None:
    """``(current, head)`` when the database is not at the head revision, else None.

    Runs a cheap query, so it also raises the database's error when it cannot answer.
    At head, that is one ``SELECT`` of the version table (``ping/`` asks on every
    call: Alembic's migration context cost ~1 ms and logged two INFO lines each time);
    anything else (no version table, an older revision) is asked of Alembic itself.
    """
    wanted = head()
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        if [row[0] for row in found] == [wanted]:
            return None
    except DBAPIError:  # no version table, or no database: Alembic's own look says which
        pass
    found_revision = current(engine)
    return None if found_revision == wanted else (found_revision, wanted)
