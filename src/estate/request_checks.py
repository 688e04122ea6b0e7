"""Checks of a request's query and path parameters that every route of a face runs:
a value no database can compare with (a NUL character) and a query parameter the
route does not take (a misspelt filter would otherwise be ignored) are refused with
400 naming it. The API's routes and the web UI's pages use the same ones; a page's
400 is an HTML page (web/app.py)."""

from __future__ import annotations

import difflib

from fastapi import HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from .db.storable import text_problem


async def refuse_unstorable_parameters(request: Request) -> None:
    """400 for a path or query parameter no database can compare with (a NUL character).

    Every route has this dependency: a lookup or filter with such a value would fail
    in PostgreSQL's driver, not answer "not found".
    """
    named = [("query parameter", k, v) for k, v in request.query_params.multi_items()]
    named += [("path parameter", k, str(v)) for k, v in request.path_params.items()]
    for kind, name, value in named:
        problem = text_problem(value)
        if problem:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"{kind} {name!r} {problem}")


def accept_any_query_parameters() -> None:
    """Mark a route whose query string is not its own (it forwards it, to a plugin):
    :func:`refuse_unknown_parameters` lets every name through."""


_NAMES_ATTRIBUTE = "estate_query_names"


def _declared(route: APIRoute) -> frozenset[str] | None:
    """The query parameter names ``route`` takes, or None when it accepts any.

    Routes are made once, at start-up: each route's tree is walked once, its names
    then kept on the route itself.
    """
    if hasattr(route, _NAMES_ATTRIBUTE):
        known: frozenset[str] | None = getattr(route, _NAMES_ATTRIBUTE)
        return known
    names: set[str] = set()
    stack: list[Dependant] = [route.dependant]
    accepts_any = False
    while stack:
        dependant = stack.pop()
        if dependant.call is accept_any_query_parameters:
            accepts_any = True
            break
        names.update(field.alias for field in dependant.query_params)
        stack.extend(dependant.dependencies)
    declared = None if accepts_any else frozenset(names)
    setattr(route, _NAMES_ATTRIBUTE, declared)
    return declared


async def refuse_unknown_parameters(request: Request) -> None:
    """400 for a query parameter the route does not take, naming the closest one.

    Every route has this dependency: a misspelt filter (``?type=``, ``?sate=``) would
    otherwise be ignored, and the answer would be an unfiltered list.
    """
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    declared = _declared(route)
    if declared is None:
        return
    for name in request.query_params:
        if name not in declared:
            close = _closest(name, sorted(declared))
            hint = f"; did you mean {close!r}?" if close else ""
            accepted = ", ".join(sorted(declared)) or "none"
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                detail=f"query parameter {name!r}: unknown{hint} (accepted: {accepted})",
            )


def _closest(name: str, choices: list[str]) -> str | None:
    """The choice ``name`` was most likely meant as: a near spelling, or a choice of
    which it is one word (``type`` for ``resource_type``)."""
    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return close[0]
    return next((c for c in choices if name.lower() in c.split("_")), None)
