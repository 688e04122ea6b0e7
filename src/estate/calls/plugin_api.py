"""Forward one HTTP request to a plugin's own API routes (seed 001's ``/plugin-apis``).

A plugin opts in with ``api: {routes: true}`` in ``manifest.yml``. Requests go to a
long-lived process of the plugin's active version, kept by the supervisor (no provider
and no credential, so ``configure`` is skipped): the first request starts it, later ones
reuse it, and an upload of a new version replaces it. Events the plugin publishes while
answering are stored with its key (and no provider or run).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..context import Context
from ..db.models import PluginVersion
from ..runtime.errors import PluginRuntimeError
from .events import EventRecorder
from .runlog import RunLog
from .specs import noting_modified, version_slot, version_spec

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
# Credentials of the caller never reach plugin code.
PRIVATE_REQUEST_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# The service frames the response itself, and a plugin sets no cookie on its origin.
DROPPED_RESPONSE_HEADERS = frozenset(
    {"connection", "content-length", "keep-alive", "set-cookie", "transfer-encoding", "upgrade"}
)
_STATUS_OF_KIND = {"timeout": 504, "unsupported": 501, "unavailable": 503}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class PluginApiError(Exception):
    """The request could not be answered by the plugin; ``status_code`` says how."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str
    query: dict[str, str | list[str]]
    headers: dict[str, str]
    body: bytes

    def params(self) -> dict[str, Any]:
        """The ``api.request`` params: the body as base64."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": {k: v for k, v in self.headers.items() if k not in PRIVATE_REQUEST_HEADERS},
            "body": base64.b64encode(self.body).decode("ascii"),
        }


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def serves_api(version: PluginVersion) -> bool:
    """Whether the version's manifest declares ``api: {routes: true}``."""
    declared = version.manifest.get("api")
    return isinstance(declared, dict) and declared.get("routes") is True


def forward(context: Context, version: PluginVersion, request: ApiRequest) -> ApiResponse:
    """Start the plugin, hand it ``request``, return its answer; raises PluginApiError."""
    key = version.key
    events = EventRecorder(RunLog(), provider_id=None, run_id=None, plugin_key=key)
    try:
        with noting_modified(context, version):
            answer = context.supervisor.call(
                version_slot(version.id),
                version_spec(context.settings, version),
                "api.request",
                request.params(),
                on_notification=events.notified,
            )
    except PluginRuntimeError as exc:
        raise PluginApiError(_STATUS_OF_KIND.get(exc.kind, 502), f"plugin {key}: {exc}") from None
    finally:
        if events.pending:
            with context.sessions() as session, session.begin():
                events.store(session)
    return _response(key, answer)


def _response(key: str, answer: Any) -> ApiResponse:
    def bad(problem: str) -> PluginApiError:
        return PluginApiError(502, f"plugin {key} answered api.request with {problem}")

    if not isinstance(answer, dict):
        raise bad(f"a {type(answer).__name__}, not an object")
    status = answer.get("status", 200)
    if type(status) is not int or not 200 <= status <= 599:
        raise bad(f"status {status!r:.40}; it must be an integer from 200 to 599")
    headers = _headers(answer.get("headers") or {})
    if headers is None:
        raise bad("bad headers; they must map header names to strings without line breaks")
    if "json" in answer:
        try:
            body = orjson.dumps(answer["json"])
        except orjson.JSONEncodeError as exc:
            raise bad(f"json that cannot be encoded ({exc})") from None
        headers.setdefault("content-type", "application/json")
    else:
        encoded = answer.get("body") or ""
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise bad("a body that is not base64") from None
    if len(body) > MAX_BODY_BYTES:
        raise bad(f"a body of {len(body)} bytes, over the 10 MB limit")
    if status in (204, 304):
        body = b""
    return ApiResponse(status, headers, body)


def _headers(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        return None
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _TOKEN.match(name) or not isinstance(value, str):
            return None
        if _BAD_VALUE.search(value) or not value.isascii():
            return None
        if name.lower() not in DROPPED_RESPONSE_HEADERS:
            out[name.lower()] = value
    return out
