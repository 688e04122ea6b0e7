"""Bodies of collection requests and collection schedules (routes/schedules.py,
``POST providers/{id}/collect/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from ..jobs.schedule import cron_problem
from .schemas import _Strict

Name = Field(min_length=1, max_length=255)
Cron = Field(
    min_length=1,
    max_length=100,
    description="Five fields (minute hour day month weekday), or six with seconds last; "
    "UTC. E.g. '0 */6 * * *': every six hours",
)


def _cron(value: str | None) -> str | None:
    problem = cron_problem(value) if value is not None else None
    if problem:
        raise PydanticCustomError("cron", "{problem}", {"problem": problem})
    return value


class ScheduleCreate(_Strict):
    name: str = Name
    cron_expression: str = Cron
    enabled: bool = True

    _cron = field_validator("cron_expression")(_cron)


class ScheduleUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    cron_expression: str | None = Field(default=None, min_length=1, max_length=100)
    enabled: bool | None = None

    _cron = field_validator("cron_expression")(_cron)


class SchedulePublic(BaseModel):
    id: int
    provider: int
    name: str
    cron_expression: str
    enabled: bool
    last_run_at: datetime | None = Field(description="When it last started a run")
    last_run: int | None = Field(description="The collection run it last started")
    next_run_at: datetime | None = Field(description="When it fires next (UTC); null disabled")
    last_skipped_at: datetime | None = Field(
        description="When it last came due and started nothing (a run was in progress, "
        "or the provider disabled)"
    )
    last_result: str = Field(description="What its last firing did, in a sentence")
    created_at: datetime
    updated_at: datetime


class CollectRequest(_Strict):
    """``POST providers/{id}/collect/``; no body is a full collection."""

    collection_type: Literal["full", "targeted"] = "full"
    target_resource_types: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="targeted: the resource type slugs to collect (and only they may be "
        "marked deleted); empty for full",
    )
