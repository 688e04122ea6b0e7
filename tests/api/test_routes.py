"""The order of the app's routes (the inventory's read paths first, for speed: see
``api/app.py``) decides only where two routes match one path: each route must still be
the first to match its own paths."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

PARAMETER = re.compile(r"\{[^}]+\}")


def _in_matching_order(app: Any) -> list[Any]:
    """The app's routes in the order a request tries them: an included router's routes
    (with their full paths) where it was included."""
    found = []
    for route in app.router.routes:
        if hasattr(route, "effective_route_contexts"):
            found.extend(route.effective_route_contexts())
        else:
            found.append(route)
    return found


def _first_match(routes: list[Any], method: str, path: str) -> Any:
    for route in routes:
        methods = getattr(route, "methods", None)
        if route.path_regex.fullmatch(path) and (methods is None or method in methods):
            return route
    return None


def test_every_route_is_the_first_to_match_its_own_paths(client: TestClient) -> None:
    routes = _in_matching_order(client.app)
    api = [r for r in routes if r.path_format.startswith("/api/")]
    assert len(api) > 120
    assert api[2].path_format == "/api/inventory/v1/resources/"  # after the root and ping/
    checked = 0
    for route in routes:
        if not hasattr(route, "path_regex") or not hasattr(route, "path_format"):
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            path = PARAMETER.sub("1", route.path_format)
            first = _first_match(routes, method, path)
            assert first is route, (
                f"{method} {path} goes to {first.path_format}, not {route.path_format}"
            )
            checked += 1
    assert checked > 120
    # A literal segment beside a parameter: the literal route comes first.
    assert _first_match(routes, "GET", "/api/inventory/v1/users/me/").endpoint.__name__ != (
        _first_match(routes, "GET", "/api/inventory/v1/users/1/").endpoint.__name__
    )
