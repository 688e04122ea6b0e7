"""What both databases can store, checked before a value reaches either.

Python's JSON parsers hand over values no column takes: a NUL character
(PostgreSQL's text and jsonb refuse it), a lone UTF-16 surrogate (not UTF-8),
integers beyond 64 bits, and (``json``, not msgspec) ``NaN`` and ``Infinity``. Left
to the database, each fails the write with a driver error — a 500 for a request, a
lost batch for a collection — so requests, plugin records and plugin answers are
checked here first and refused with the place of the bad value.
"""

from __future__ import annotations

import math
from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""What an integer column of either database holds (SQLite INTEGER, PostgreSQL bigint)."""


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
