"""The OpenAPI document, made to say what the API really answers.

FastAPI documents a 422 for every operation taking input; this API answers bad input
with a 400 (``{"detail": …, "errors": […]}``, see app.py). It does not document the
401, 403 (a role too low) and 429 (throttled logins) every operation but ``ping`` can
answer, nor the 404 of an operation addressing something by id or key; the role
matrix test checks every answer it sees is documented. Client generators and contract testers (schemathesis) go by
the document, so it is corrected once, when first asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = "Problem"

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM,
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What was wrong and where"},
        "errors": {
            "type": "array",
            "description": "Request validation: one entry per problem (loc, msg, type)",
            "items": {"type": "object"},
        },
        "problems": {
            "type": "array",
            "description": "Plugin uploads: every problem found in the package",
            "items": {"type": "string"},
        },
    },
}


def _answer(description: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{PROBLEM}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation that answers 409 when ``description``."""
    return {409: _answer(description)}


def document(app: FastAPI, public: frozenset[str]) -> dict[str, Any]:
    """The app's OpenAPI document with its error answers as they are; the paths in
    ``public`` need no credentials."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            takes_input = responses.pop("422", None) is not None
            if takes_input or operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault("400", _answer("Bad input: what was wrong and where"))
            if path not in public:
                responses.setdefault("401", _answer("No or wrong credentials (Basic or Bearer)"))
                responses.setdefault(
                    "403",
                    _answer(
                        "Your role does not allow it: the role it needs in the object's "
                        "organization, or a system administrator (docs/security.md)"
                    ),
                )
                responses.setdefault(
                    "429", _answer("Too many failed logins: try again after Retry-After seconds")
                )
            if "{" in path:
                responses.setdefault("404", _answer("Nothing with that id or key"))
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[PROBLEM] = _PROBLEM_SCHEMA
    app.openapi_schema = schema
    return schema


def install(app: FastAPI, *, public: frozenset[str]) -> None:
    """Serve :func:`document` at ``/openapi.json`` (and to ``/docs``)."""
    app.openapi = lambda: document(app, public)  # type: ignore[method-assign]
