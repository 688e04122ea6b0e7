"""the search index keeps its texts lowered (PostgreSQL)

``resource_search.body`` now holds ``lower()`` of a resource's searched text, and
searches match it with ``LIKE lower(pattern)``: what PostgreSQL's ILIKE does to both
sides in a multi-byte encoding, so every search answers as before, but the text is
no longer lowered again on every read (lowering in C.UTF-8 is most of ILIKE's cost:
per 100,000 texts ILIKE took 188 ms, LIKE 38).

The texts already indexed are not rewritten here (a million rows and their trigrams
would hold the upgrade for minutes): every resource is queued instead, and the
service's indexers write them again, lowered, in the background (47 s for a million
on a 2-core host). Searches stay exact meanwhile, as after a first collection: a
queued resource is matched on its own row, never on its indexed text. Going back
needs nothing: ILIKE finds the same in a lowered text.

SQLite's FTS5 trigram index is case-insensitive already: nothing to do.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "INSERT INTO resource_search_queue (resource_id) SELECT resource_id "
        "FROM resource_search ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    pass
