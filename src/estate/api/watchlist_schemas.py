"""Request and response bodies of ``watchlists/`` (the UIS's field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .schemas import _Strict

WatchlistType = Literal["static", "dynamic"]
FILTER_QUERY = (
    "dynamic: the resource list's filters as a JSON object "
    '({"state": "running", "tag": ["env:prod"]}); static: {}'
)


class WatchlistCreate(_Strict):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    watchlist_type: WatchlistType = "static"
    filter_query: dict[str, Any] = Field(default_factory=dict, description=FILTER_QUERY)
    organization: int = Field(default=1, ge=1, le=2**31 - 1)


class WatchlistUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    watchlist_type: WatchlistType | None = None
    filter_query: dict[str, Any] | None = Field(default=None, description=FILTER_QUERY)
    organization: int | None = Field(default=None, ge=1, le=2**31 - 1)


class WatchlistPublic(BaseModel):
    id: int
    name: str
    description: str
    watchlist_type: WatchlistType
    filter_query: dict[str, Any]
    organization: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    resource_count: int = Field(description="Members now (a dynamic one's: matches now)")


class WatchlistResources(_Strict):
    """Resources added to or removed from a static watchlist."""

    resource_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=1000
    )


class WatchlistMembership(BaseModel):
    detail: str
    changed: int = Field(description="How many resources were added or removed")
    resource_count: int


class WatchlistDrift(BaseModel):
    """One change of one of the watchlist's resources (the UIS's drift fields)."""

    id: int
    resource: int
    resource_name: str | None
    resource_type_slug: str
    provider: int
    provider_name: str
    collection_run: int | None
    drift_type: str = Field(description="modified, deleted or restored")
    detected_at: datetime
    changes: dict[str, Any] | None
