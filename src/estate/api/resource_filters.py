"""The resource list's filters, parsed in one place: the query string of
``resources/`` and the ``filter_query`` of a dynamic watchlist alike.

:func:`resource_filters` is a FastAPI dependency (its parameters are the filters the
list documents and takes). :func:`filters_from` reads a JSON object with the very
same parameters: a model is made once from the dependency's signature, so a filter
added to the list is accepted, validated and documented for watchlists too.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import HTTPException, Query
from pydantic import ConfigDict, ValidationError, create_model

from inventory_providers.base import STATES

from .. import taxonomy
from ..inventory.queries import ResourceFilter
from ..inventory.tags import TagMatch, parse_tag
from .deps import IdFilter, one_of

_STATES = sorted(STATES)
TYPE_SLUGS = [t.slug for t in taxonomy.RESOURCE_TYPES]
StateFilter = Annotated[
    str | None, Query(description="The normalised state", json_schema_extra={"enum": _STATES})
]
TypeFilter = Annotated[
    str | None, Query(description="A slug of the taxonomy", json_schema_extra={"enum": TYPE_SLUGS})
]
TagFilter = Annotated[
    list[str] | None,
    Query(
        description="A user tag, [namespace/]key[:value] (env:prod, ops/env:prod, env); "
        "repeat it for resources carrying every one",
        max_length=20,
    ),
]


async def resource_filters(
    provider: IdFilter | None = None,
    provider__id: IdFilter | None = None,
    resource_type: TypeFilter = None,
    resource_type__slug: TypeFilter = None,
    state: StateFilter = None,
    vendor: str | None = None,
    region: str | None = None,
    os_type: str | None = None,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Part of the name, description, ems_ref, canonical_id, fqdn, an IP "
            "or MAC address, vendor_type, os_name, cloud_tenant or flavor",
        ),
    ] = None,
    include_deleted: bool = False,
    tag: TagFilter = None,
) -> ResourceFilter:
    """The filters of a resource list; 400 naming a bad one. The UIS's names
    (``provider__id``, ``resource_type__slug``) are the same filters as Estate's.

    ``async``: it does no I/O, so FastAPI runs it without a worker thread's hop."""
    return _build(**locals())


def _build(
    provider: int | None,
    provider__id: int | None,
    resource_type: str | None,
    resource_type__slug: str | None,
    state: str | None,
    vendor: str | None,
    region: str | None,
    os_type: str | None,
    search: str | None,
    include_deleted: bool,
    tag: list[str] | None,
) -> ResourceFilter:
    resource_type = _aliased(
        "resource_type", resource_type, "resource_type__slug", resource_type__slug
    )
    one_of("resource_type", resource_type, TYPE_SLUGS)
    one_of("state", state, _STATES)
    provider = _aliased("provider", provider, "provider__id", provider__id)
    return ResourceFilter(
        provider,
        resource_type,
        state,
        vendor,
        region,
        search,
        include_deleted,
        os_type,
        tags=_tags(tag or []),
    )


def _aliased(name: str, value: Any, alias: str, other: Any) -> Any:
    """The value of a filter sent under Estate's name or the UIS's (``provider__id``)."""
    if value is not None and other is not None and value != other:
        raise HTTPException(400, detail=f"{alias}: {other!r} contradicts {name}={value!r}")
    return value if value is not None else other


def _tags(terms: list[str]) -> tuple[TagMatch, ...]:
    matches = []
    for term in terms:
        try:
            matches.append(parse_tag(term))
        except ValueError as exc:
            raise HTTPException(400, detail=f"tag: {exc}") from None
    return tuple(matches)


def _model() -> Any:
    fields: dict[str, Any] = {
        name: (parameter.annotation, parameter.default)
        for name, parameter in inspect.signature(resource_filters, eval_str=True).parameters.items()
    }
    return create_model("ResourceFilterQuery", __config__=ConfigDict(extra="forbid"), **fields)


_FilterQuery = _model()
FILTER_NAMES = tuple(inspect.signature(resource_filters).parameters)


def filters_from(query: Mapping[str, Any], where: str = "filter_query") -> ResourceFilter:
    """The :class:`ResourceFilter` a JSON object of list filters asks for.

    400 ``<where>.<name>: <problem>`` for an unknown filter or a bad value; a single
    ``tag`` may be a string instead of a list.
    """
    values = dict(query)
    if isinstance(values.get("tag"), str):
        values["tag"] = [values["tag"]]
    try:
        parsed = _FilterQuery.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"not a resource filter (filters: {', '.join(FILTER_NAMES)})"
        raise HTTPException(400, detail=f"{where}.{name}: {message}") from None
    try:
        return _build(**parsed.model_dump())
    except HTTPException as exc:
        raise HTTPException(400, detail=f"{where}.{exc.detail}") from None


__all__ = ["FILTER_NAMES", "filters_from", "resource_filters"]
