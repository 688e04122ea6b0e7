"""Alembic environment: the engine comes from the caller (see estate.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from estate.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` on the command line: use the configured URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
