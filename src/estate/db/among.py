"""``column`` is one of a list bound as one parameter: ``among(Resource.id, "ids")``.

An expanding ``IN`` (``column.in_(bindparam(..., expanding=True))``) is rendered anew
for every call: SQLAlchemy writes one placeholder per value, and psycopg, given a
statement of more than 50 parameters, converts its placeholders again rather than from
its cache. For a page of 100 resources (its rows, their tags, their providers) that
was ~10 % of an API worker's CPU on PostgreSQL. Here the list is one parameter and the
statement's text never changes: ``column = ANY(CAST(:p AS <column's type>[]))`` on
PostgreSQL (planned as index probes; the array has the column's own type, or the
index is not used), ``column IN (SELECT value FROM json_each(:p))`` on SQLite (the
list bound as its JSON text). The ingest's SQL, written as text, takes the same two
forms from :func:`among_sql` and :func:`list_parameter` (``inventory/statements.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import BindParameter, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean, NullType, TypeDecorator


def among_sql(column: str, parameter: str, kind: str, postgresql: bool) -> str:
    """The SQL text of ``column`` is one of the list bound at ``parameter`` (a
    placeholder); ``kind`` is the column's SQL type, which the array must have on
    PostgreSQL for the column's index to be used."""
    if postgresql:
        return f"{column} = ANY(CAST({parameter} AS {kind}[]))"
    return f"{column} IN (SELECT value FROM json_each({parameter}))"


def list_parameter(values: Iterable[Any], postgresql: bool) -> Any:
    """What :func:`among_sql`'s parameter is bound to: the list itself on PostgreSQL
    (psycopg binds an array), its JSON text on SQLite (for ``json_each``)."""
    items = values if isinstance(values, list) else list(values)
    return items if postgresql else orjson.dumps(items).decode()


class _List(TypeDecorator[Any]):
    """A list parameter (:func:`list_parameter`)."""

    impl = NullType
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            raise ValueError("among() needs a list, got None")
        return list_parameter(value, dialect.name == "postgresql")


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


def among(column: Any, name: str | None = None, values: Iterable[Any] | None = None) -> Among:
    """``column`` is one of the list bound as ``name`` when the statement runs (a
    statement built once), or of ``values`` (a statement built per call)."""
    if (name is None) == (values is None):
        raise TypeError("among() takes a parameter's name or the values, one of them")
    if values is not None:
        return Among(column, bindparam(None, list(values), type_=_List()))
    return Among(column, bindparam(name, type_=_List()))


@compiles(Among)
def _json_each(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    return _compiled(element, compiler, False, **kw)


@compiles(Among, "postgresql")
def _any(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    return _compiled(element, compiler, True, **kw)


def _compiled(element: Among, compiler: SQLCompiler, postgresql: bool, **kw: Any) -> str:
    return among_sql(
        compiler.process(element.column, **kw),
        compiler.process(element.values, **kw),
        compiler.dialect.type_compiler_instance.process(element.column.type),
        postgresql,
    )
