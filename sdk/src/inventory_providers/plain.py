"""What client libraries hand back, as the plain values a record stores.

pyVmomi returns its own ``int``, ``float`` and ``str`` subclasses (``long``, ``short``,
``double``, enum values) and arrays that subclass ``list``; boto3 returns ``datetime``
objects; DynamoDB and others return ``Decimal``. A plugin passes them to
``ResourceData`` as they come, and this module turns them into what JSON holds:

=====================================  ==========================================
value                                  stored as
=====================================  ==========================================
``str`` subclass, str enum member      the plain ``str`` (its characters)
``int`` subclass, int enum member      the plain ``int`` (never a ``bool``)
``float`` subclass                     the plain ``float``
``Decimal``                            ``int`` when integral, else ``float``
``datetime``, ``date``, ``time``       its ISO 8601 text (``isoformat()``)
other ``Enum`` member                  its value, made plain the same way
``UUID``, ``ipaddress`` objects        their text
``Mapping`` (dict subclasses too)      a ``dict`` with ``str`` keys (``int`` keys
                                       become text, as JSON writes them; see
                                       :func:`is_plain` for a plain dict's keys)
``list``, ``tuple`` (and subclasses)   a ``list``
``set``, ``frozenset``                 a ``list``, sorted (a set has no order, and
                                       the record's content hash must not change
                                       from run to run)
a dataclass instance                   a ``dict`` of its fields
``bytes``                              refused: which text they are is for the
                                       plugin to say (``.decode()``, base64)
anything else                          refused, naming where it is
=====================================  ==========================================

A refusal is a :class:`~inventory_providers.resource.ResourceValidationError` naming
the path (``properties.disks[2].size``), the value and its type (``pyVmomi long -1``).
Objects nested deeper than :data:`MAX_DEPTH` are left as they are below that depth:
the service refuses that record alone, and the rest of the run goes on.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import numbers
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

__all__ = [
    "MAX_DEPTH",
    "PlainValueError",
    "describe",
    "is_plain",
    "json_default",
    "plain",
    "scalar",
]

MAX_DEPTH = 64
"""How deeply an object field may nest, its own level included (the service's limit)."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_AS_TEXT: tuple[type, ...] = (
    UUID,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


class PlainValueError(ValueError):
    """A value that has no plain form; ``where`` is its path, ``problem`` the reason."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def describe(value: Any) -> str:
    """``value`` for an error message: its type (module's top package and class name,
    the module left out for builtins) and the value, e.g. ``pyVmomi long -1``."""
    if value is None:
        return "None"
    kind = type(value)
    package = kind.__module__.partition(".")[0]
    name = kind.__qualname__ if package == "builtins" else f"{package} {kind.__qualname__}"
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except Exception:  # a client object whose __str__ fails must not hide the real error
        text = object.__repr__(value)
    text = " ".join(text.split())
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{name} {text}"


def is_plain(value: dict[Any, Any], depth: int = 1) -> bool:
    """Whether a dict's values are all plain JSON values (str, int, float, bool, None,
    and dicts and lists of them), looked at down to :data:`MAX_DEPTH`.

    The fast path of every record: a plugin's own dicts pass without a copy. Keys are
    not looked at here (a third of the cost): a client library's values are what
    differ, its keys are text; the encoder writes an ``int`` key as text, as JSON does.
    """
    scalars = _SCALARS
    for item in value.values():
        if type(item) not in scalars and not _is_plain_container(item, depth):
            return False
    return True


def _is_plain_container(value: Any, depth: int) -> bool:
    if depth >= MAX_DEPTH:
        return True  # the service judges what lies deeper
    kind = type(value)
    if kind is dict:
        return is_plain(value, depth + 1)
    if kind is list:
        scalars = _SCALARS
        for item in value:
            if type(item) not in scalars and not _is_plain_container(item, depth + 1):
                return False
        return True
    return False


def plain(value: Any, where: str, depth: int = 1) -> Any:
    """``value`` as plain JSON values (the table above); raises
    :class:`PlainValueError` naming ``where`` (a path such as ``properties.disks[2]``)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth > MAX_DEPTH:
        return value  # the service refuses this record alone; see the module's docstring
    if isinstance(value, Mapping):
        return {
            _key(key, where): plain(item, f"{where}.{key}", depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [plain(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [plain(item, f"{where}[]", depth + 1) for item in value]
        try:
            return sorted(items)
        except TypeError:  # mixed types, or dicts: any fixed order will do
            return sorted(items, key=_order)
    if isinstance(value, Enum) and not isinstance(value, str | int | float):
        return plain(value.value, where, depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name), f"{where}.{field.name}", depth + 1)
            for field in dataclasses.fields(value)
        }
    return scalar(value, where)


def scalar(value: Any, where: str) -> str | int | float | bool | None:
    """One value that is not a container, as a plain JSON scalar (the table above)."""
    if isinstance(value, str):
        return str.__str__(value)  # the characters, whatever the subclass's __str__ says
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Decimal):
        return _decimal(value, where)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return scalar(value.value, where)
    if isinstance(value, _AS_TEXT):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raise PlainValueError(
            where,
            f"bytes cannot be stored as they are, got {describe(value)}; decode them "
            "in the plugin (value.decode() for text, base64 for binary data)",
        )
    raise PlainValueError(
        where,
        f"cannot be stored as JSON, got {describe(value)}; pass a string, number, "
        "boolean, list or dict (pick the object's fields in the plugin)",
    )


def _decimal(value: Decimal, where: str) -> int | float:
    if not value.is_finite():
        raise PlainValueError(where, f"must be a finite number, got {describe(value)}")
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _key(key: Any, where: str) -> str:
    if type(key) is str:
        return key
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int.__index__(key))
    if isinstance(key, Enum) and isinstance(key.value, str):
        return str.__str__(key.value)
    raise PlainValueError(where, f"keys must be strings, got the key {describe(key)}")


def _order(item: Any) -> tuple[str, str]:
    """A total order over plain values of any types (a set may mix them)."""
    return type(item).__name__, repr(item)


def json_default(value: Any) -> Any:
    """The ``default`` of the wire encoder (orjson's or ``json``'s): what the encoder
    cannot write itself, made plain by the table above, so ``2.5`` stays a number and
    a ``datetime`` is ISO 8601 whichever encoder runs.

    ``ResourceData`` has made its values plain already; this serves records a plugin
    yields as dicts, events and action results. What has no plain form is written as
    its ``str()``, as it always was.
    """
    if isinstance(value, set | frozenset):
        try:
            return plain(value, "value")
        except PlainValueError:
            return sorted(map(str, value))
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list):
        return list(value)
    try:
        return scalar(value, "value")
    except PlainValueError:
        return str(value)
