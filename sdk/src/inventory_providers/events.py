"""Events a plugin publishes (seed 001's *publish*): the wire form and its limits."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .vocabulary import EVENT_SEVERITIES

__all__ = [
    "MAX_EVENT_DATA_BYTES",
    "MAX_EVENT_MESSAGE_CHARS",
    "MAX_EVENT_TYPE_CHARS",
    "validate_event",
]

MAX_EVENT_TYPE_CHARS = 100
MAX_EVENT_MESSAGE_CHARS = 10_000
MAX_EVENT_DATA_BYTES = 64 * 1024
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_EVENT_KEYS = frozenset({"type", "message", "severity", "data", "time"})


def validate_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Check one event in its wire form: ``{"type", "message", "severity", "data", "time"}``.

    ``type`` is required: a name of at most 100 characters made of letters, digits and
    ``_ . : / -``, starting with a letter or digit (``"power.changed"``). ``severity`` is
    one of :data:`EVENT_SEVERITIES` (default ``"info"``); ``message`` a string of at most
    10,000 characters; ``data`` a JSON object of at most 64 KB; ``time`` Unix seconds.
    Returns a normalised copy; raises ``ValueError`` naming the first bad field. The
    service checks every event a plugin sends with this function.
    """
    if not isinstance(event, Mapping):
        raise ValueError(f"event: must be an object, got {type(event).__name__}")
    unknown = sorted(str(key) for key in event if key not in _EVENT_KEYS)
    if unknown:
        raise ValueError(f"event {unknown[0]}: unknown field")
    kind = _type(event.get("type"))
    severity = _severity(event.get("severity", "info"))
    message = _message(event.get("message", ""))
    data = _data(event.get("data", {}))
    out: dict[str, Any] = {"type": kind, "message": message, "severity": severity, "data": data}
    moment = event.get("time")
    if moment is not None:
        if type(moment) not in (int, float) or not math.isfinite(moment):
            raise ValueError(f"event time: must be Unix seconds, got {moment!r:.120}")
        out["time"] = moment
    return out


def _type(kind: Any) -> str:
    if type(kind) is not str or not _EVENT_TYPE.match(kind) or len(kind) > MAX_EVENT_TYPE_CHARS:
        raise ValueError(
            f"event type: must be a name of 1 to {MAX_EVENT_TYPE_CHARS} letters, digits and "
            f"'_.:/-' like 'power.changed', got {kind!r:.120}"
        )
    return kind


def _severity(severity: Any) -> str:
    if severity not in EVENT_SEVERITIES:
        raise ValueError(
            f"event severity: must be one of {', '.join(EVENT_SEVERITIES)}, got {severity!r:.120}"
        )
    return str(severity)


def _message(message: Any) -> str:
    if type(message) is not str:
        raise ValueError(f"event message: must be a string, got {type(message).__name__}")
    if len(message) > MAX_EVENT_MESSAGE_CHARS:
        raise ValueError(
            f"event message: {len(message)} characters, over the {MAX_EVENT_MESSAGE_CHARS} limit"
        )
    return message


def _data(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"event data: must be an object, got {type(data).__name__}")
    try:
        size = len(json.dumps(data, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event data: must be JSON serialisable ({exc})") from None
    if size > MAX_EVENT_DATA_BYTES:
        raise ValueError(f"event data: {size} bytes as JSON, over the 64 KB limit")
    return dict(data)
