"""What every mapper shares: the region being read, pagination, tags, names, times, ARNs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from inventory_providers.base import Relationship


@dataclass(slots=True)
class Scope:
    """One region of one account as a mapper reads it.

    ``asg_by_instance`` is filled by the Auto Scaling mapper, which runs before the
    instance mapper in the same region, so each instance names its group.
    """

    region: str
    account: str
    partition: str
    page_size: int
    asg_by_instance: dict[str, str] = field(default_factory=dict)

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{self.account}:{resource}"


def pages(
    client: Any, operation: str, scope: Scope, *, most: int, least: int = 1, **params: Any
) -> Iterator[dict[str, Any]]:
    """Every page of ``operation`` through boto3's paginator, ``scope.page_size`` items
    a page within what the API allows (``least``..``most``)."""
    size = max(least, min(most, scope.page_size))
    paginator = client.get_paginator(operation)
    yield from paginator.paginate(**params, PaginationConfig={"PageSize": size})


def tags_of(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` (any key case) or a plain mapping, as a dict."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def name_of(tags: Mapping[str, str], fallback: str) -> str:
    """The ``Name`` tag, as the AWS console shows it, else ``fallback``."""
    return tags.get("Name") or fallback


def iso(value: Any) -> str | None:
    """A datetime as ISO 8601 text; text as it is; None for nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def plain(value: Any) -> Any:
    """A JSON-able copy of what boto3 returned (datetimes as ISO 8601, bytes dropped)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return None
    return value


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys whose value is None or empty (0 and False stay)."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != [] and v != {}}


def member_of(*refs: str | None) -> list[Relationship | dict[str, str]]:
    """``member_of`` edges to each ref given, once each, in order."""
    return edges("member_of", refs)


def edges(kind: str, refs: Iterable[str | None]) -> list[Relationship | dict[str, str]]:
    """``kind`` edges to each ref given, once each, in order (as ``ResourceData`` takes them)."""
    return [
        {"target_ems_ref": ref, "relationship_type": kind} for ref in dict.fromkeys(refs) if ref
    ]
