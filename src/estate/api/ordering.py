"""``?ordering=`` as DRF's OrderingFilter reads it: ``name``, ``-name``, ``a,-b``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import HTTPException, Query
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

Ordering = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated sortable fields; a leading '-' sorts descending",
    ),
]


def order_clauses(
    value: str | None,
    sortable: Mapping[str, QueryableAttribute[Any]],
    tiebreak: QueryableAttribute[Any],
) -> list[ColumnElement[Any]] | None:
    """The ORDER BY of ``value`` (None when it is empty); 400 naming a field not sortable.

    Empty values sort last ascending and first descending on both databases (their
    defaults differ), and ``tiebreak`` (the id) ends every ordering, so pages of equal
    values neither skip nor repeat rows.
    """
    if not value:
        return None
    clauses: list[ColumnElement[Any]] = []
    for part in value.split(","):
        name = part.strip()
        descending = name.startswith("-")
        column = sortable.get(name.removeprefix("-"))
        if column is None:
            accepted = ", ".join(sorted(sortable))
            raise HTTPException(
                400, detail=f"ordering: {name!r} is not a sortable field (sortable: {accepted})"
            )
        clauses.append(column.desc().nulls_first() if descending else column.asc().nulls_last())
    first_descending = value.strip().startswith("-")
    clauses.append(tiebreak.desc() if first_descending else tiebreak.asc())
    return clauses
