"""What both databases can store, checked before a value reaches either.

Python's JSON parsers hand over values no column takes: a NUL character
(PostgreSQL's text and jsonb refuse it), a lone UTF-16 surrogate (not UTF-8),
integers beyond 64 bits, and (``json``, not msgspec) ``NaN`` and ``Infinity``. Left
to the database, each fails the write with a driver error — a 500 for a request, a
lost batch for a collection — so requests, plugin records and plugin answers are
checked here first and refused with the place of the bad value.

Nesting is bounded too: orjson refuses to write a document deeper than 255 levels and
Python's own parsers and encoders recurse once per level, so a value nested deeper
than ``MAX_DEPTH`` is refused (``too_deep``) before anything parses it.
"""

from __future__ import annotations

import math
import re
from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""What an integer column of either database holds (SQLite INTEGER, PostgreSQL bigint)."""

MAX_DEPTH = 64
"""How deeply objects and arrays may nest in a value that is stored or served."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"')
_EMPTY_PAIR = re.compile(rb"\{\}|\[\]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Tell whether the JSON text ``data`` nests objects and arrays deeper than ``limit``.

    Without parsing it (a parser is what deep nesting breaks): strings are dropped,
    then everything but brackets, then each pass removes the innermost empty pairs,
    one level per pass. Text that is not JSON may answer either way; its parser will
    refuse it.
    """
    if data.count(b"{") + data.count(b"[") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        brackets, removed = _EMPTY_PAIR.subn(b"", brackets)
        if not brackets or not removed:
            return False
    return bool(brackets)


def unstorable(value: Any) -> tuple[str, str] | None:
    """``(where, what)`` of the first value in ``value`` no database can store.

    ``where`` is a dotted path (``connection_config.hosts[2]``), empty for ``value``
    itself; None when all of it can be stored.
    """
    # Depth-first in document order (the stack holds children reversed); a key is an
    # entry of its own, checked just before its value.
    stack: list[tuple[str, Any, bool]] = [("", value, False)]
    while stack:
        path, item, is_key = stack.pop()
        what = None
        if is_key:
            problem = text_problem(item) if isinstance(item, str) else None
            what = f"key {item!r} {problem}" if problem else None
        elif isinstance(item, str):
            what = text_problem(item)
        elif isinstance(item, dict):
            children: list[tuple[str, Any, bool]] = []
            for key, child in item.items():
                children.append((path, key, True))
                children.append((f"{path}.{key}" if path else str(key), child, False))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", item[i], False) for i in reversed(range(len(item))))
        elif isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int):
            what = None if INT_MIN <= item <= INT_MAX else "is out of the 64-bit integer range"
        elif isinstance(item, float):
            what = None if math.isfinite(item) else f"is {item}, which is not a JSON number"
        if what:
            return path, what
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored in a text column, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which no text column stores"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return None


def describe(where: str, what: str) -> str:
    """``where: what``, or ``what`` alone for the value itself."""
    return f"{where}: {what}" if where else what
