"""``column`` is one of a list bound as one parameter: ``among(Resource.id, "ids")``.

An expanding ``IN`` (``column.in_(bindparam(..., expanding=True))``) is rendered anew
for every call: SQLAlchemy writes one placeholder per value, and psycopg, given a
statement of more than 50 parameters, converts its placeholders again rather than from
its cache. For a page of 100 resources (its rows, their tags, their providers) that
was ~10 % of an API worker's CPU on PostgreSQL. Here the list is one parameter and the
statement's text never changes: ``column = ANY(CAST(:p AS <column's type>[]))`` on
PostgreSQL (planned as index probes; the array has the column's own type, or the
index is not used), ``column IN (SELECT value FROM json_each(:p))`` on SQLite (the
list bound as its JSON text). The ingest's SQL does the same by hand
(``inventory/statements.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BindParameter, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean, NullType, TypeDecorator


class _List(TypeDecorator[Any]):
    """A list parameter: as it is on PostgreSQL (psycopg binds an array), as JSON text on
    SQLite (for ``json_each``)."""

    impl = NullType
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            raise ValueError("among() needs a list, got None")
        values = list(value)
        return values if dialect.name == "postgresql" else orjson.dumps(values).decode()


class Among(ColumnElement[bool]):
    """The WHERE clause ``column`` is one of ``values`` (a list parameter)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: never compared with 1 on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[Any]) -> None:
        self.column = column
        self.values = values


def among(column: Any, name: str | None = None, values: Sequence[Any] | None = None) -> Among:
    """``column`` is one of the list bound as ``name`` when the statement runs (a
    statement built once), or of ``values`` (a statement built per call)."""
    if (name is None) == (values is None):
        raise TypeError("among() takes a parameter's name or the values, one of them")
    if name is not None:
        return Among(column, bindparam(name, type_=_List()))
    return Among(column, bindparam(None, list(values or ()), type_=_List()))


@compiles(Among)
def _json_each(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.values, **kw)}))"


@compiles(Among, "postgresql")
def _any(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    kind = compiler.dialect.type_compiler_instance.process(element.column.type)
    return f"{column} = ANY(CAST({compiler.process(element.values, **kw)} AS {kind}[]))"
