"""Bodies of lifecycle actions and their runs (routes/actions.py, routes/action_runs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .schemas import _Strict


class ActionRequest(_Strict):
    """``POST …/actions/{name}/``; no body runs the action with its defaults."""

    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The action's parameters by name (see GET resources/{id}/actions/)",
    )


class ActionParamPublic(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""
    secret: bool = False
    choices: list[Any] | None = None


class ActionPublic(BaseModel):
    """One action the plugin offers, and whether it can run now (``reason`` when not)."""

    name: str
    applies_to: list[str]
    params: list[ActionParamPublic]
    profile: str
    long_running: bool
    idempotent: bool
    cancelable: bool
    description: str
    available: bool
    reason: str


class ActionListPublic(BaseModel):
    resource: int | None
    provider: int
    plugin_key: str
    profiles: list[str] = Field(description="The capability profiles the plugin implements")
    actions: list[ActionPublic]
    message: str = Field(default="", description="Why there are no actions, when none")


class ActionRunPublic(BaseModel):
    id: int
    provider: int
    resource: int | None
    ems_ref: str | None
    action: str
    parameters: dict[str, Any] = Field(description="Secret parameters show as $encrypted$")
    status: str
    result: Any = None
    error: str | None
    error_kind: str | None
    requested_by: str
    refresh_run: int | None = Field(description="The collection run that refreshed the inventory")
    plugin_version: str | None = Field(
        default=None, description="The exact plugin version the action ran (null before it started)"
    )
    plugin_sha256: str | None = Field(default=None, description="That version's archive digest")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ActionRunDetail(ActionRunPublic):
    log: str
