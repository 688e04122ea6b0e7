"""JSON answers built once: plain dicts serialized by orjson, in the shape the route's
``response_model`` documents.

A route that returns a Pydantic model has it validated again by FastAPI and then
serialized; for a page of 100 resources that was the larger part of the request's
CPU. The hot routes build the answer's dicts themselves and return :func:`json_answer`
(FastAPI passes a ``Response`` through untouched); their decorator keeps
``response_model=`` so the OpenAPI document is unchanged. The dicts must hold what the
model would serialize: JSON types, tz-aware UTC datetimes (written ``…Z`` as Pydantic
writes them), floats where the model says ``float``. ``tests/api/test_answers.py``
checks that each such answer is a fixed point of its model.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

_OPTIONS = orjson.OPT_UTC_Z


def json_answer(content: Any, status_code: int = 200) -> Response:
    """``content`` as a JSON response, serialized once by orjson."""
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status_code,
        media_type="application/json",
    )


ESTIMATED_HEADER = "X-Count-Estimated"
"""Sent (``true``) with a page whose ``count`` is an estimate (a broad search's)."""


def page_answer(
    count: int,
    next_url: str | None,
    previous: str | None,
    results: list[dict[str, Any]],
    estimated: bool = False,
) -> Response:
    """A DRF-style page (:class:`~estate.api.pagination.Page`) as a JSON response;
    ``estimated``: its count is an estimate, said in :data:`ESTIMATED_HEADER`."""
    answer = json_answer(
        {"count": count, "next": next_url, "previous": previous, "results": results}
    )
    if estimated:
        answer.headers[ESTIMATED_HEADER] = "true"
    return answer
