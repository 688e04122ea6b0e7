"""``ResourceData``: one resource as a plugin found it, and the checks of its fields.

Each field's check follows from its kind, and its kind from its annotation in
``ResourceData`` (``str | None`` is free text, ``int | None`` a count, …); the four
fields with rules of their own are named in ``_KIND_BY_NAME``. A new field is one
annotated line in the dataclass. :data:`FIELD_KINDS` lists the outcome.

A check accepts what ``isinstance`` accepts for its kind and keeps the plain value:
a client library's ``str`` and ``int`` subclasses (pyVmomi's ``long``, its enum
values), ``datetime`` for times, ``Decimal`` for numbers (``plain.py`` has the table);
a ``bool`` is never a number. A refusal names the field, the value and its type.
A state or relationship type outside the vocabulary costs neither the record nor the
run: see ``vocabulary.py`` and :func:`settle_state`.
"""

from __future__ import annotations

import logging
import numbers
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar

from .plain import PlainValueError, describe, is_plain, plain
from .vocabulary import (
    MAX_WORD_CHARS,
    RELATIONSHIP_TYPES,
    STATES,
    nearest_state,
    unknown_word_note,
)

__all__ = [
    "FIELD_KINDS",
    "Relationship",
    "ResourceData",
    "ResourceValidationError",
    "settle_state",
    "validate_record",
]

logger = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


class ResourceValidationError(ValueError):
    """A ``ResourceData`` or ``Relationship`` value is wrong; ``field`` names where."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(slots=True)
class Relationship:
    """An edge from the resource that carries it to another resource of the same provider.

    ``ResourceData.relationships`` accepts these or plain dicts with the same two keys,
    and keeps them as dicts.
    """

    target_ems_ref: str
    relationship_type: str

    def __post_init__(self) -> None:
        target, kind = _check_relationship(self.target_ems_ref, self.relationship_type, "")
        if target is not self.target_ems_ref or kind is not self.relationship_type:
            self.target_ems_ref, self.relationship_type = target, kind

    def to_dict(self) -> dict[str, str]:
        return {"target_ems_ref": self.target_ems_ref, "relationship_type": self.relationship_type}


def _check_relationship(target: Any, kind: Any, where: str) -> tuple[str, str]:
    """The plain ``(target_ems_ref, relationship_type)``; a type outside the vocabulary
    is kept as given and noted once (see ``vocabulary.py``)."""
    if type(target) is not str or not target:
        text = _text(target)
        if not text:
            raise ResourceValidationError(
                f"{where}target_ems_ref", f"must be a non-empty string, got {describe(target)}"
            )
        target = text
    if type(kind) is not str or kind not in RELATIONSHIP_TYPES:
        kind = _relationship_type(kind, f"{where}relationship_type")
    return target, kind


def _relationship_type(kind: Any, where: str) -> str:
    text = _text(kind)
    if not text or len(text) > MAX_WORD_CHARS:
        raise ResourceValidationError(
            where,
            f"must be a word of at most {MAX_WORD_CHARS} characters, got {describe(kind)} "
            f"(Estate's types: {', '.join(sorted(RELATIONSHIP_TYPES))})",
        )
    if text not in RELATIONSHIP_TYPES:
        _note_word("relationship_type", text, text)
    return text


def settle_state(
    word: str, power_state: str | None, properties: dict[str, Any] | None
) -> tuple[str, str | None, dict[str, Any] | None]:
    """Where a state outside :data:`~inventory_providers.vocabulary.STATES` goes.

    Returns ``(state, power_state, properties)``: the state is
    :func:`~inventory_providers.vocabulary.nearest_state` of ``word``, and the word is
    kept as ``power_state`` when that is empty, else as ``properties["source_state"]``
    (unless the plugin set that key itself, or the word is the power state already).
    ``properties`` is copied, never changed in place. The service applies the same
    rule to records that reach it as JSON.
    """
    if not word:
        return "unknown", power_state, properties
    if not power_state and len(word) <= MAX_WORD_CHARS:
        return nearest_state(word), word, properties
    if word != power_state and "source_state" not in (properties or {}):
        properties = {**(properties or {}), "source_state": word}
    return nearest_state(word), power_state, properties


# A word outside the vocabularies is logged once per run. The SDK's part: the states it
# settles (the service never sees those words) and, outside the service, relationship
# types; under the service, which sees every relationship type, the service logs those.
_NOTED: set[tuple[str, str]] = set()
_NOTING = threading.Lock()
_MAX_NOTED = 1000
_SERVICE_NOTES = {"relationship_type"}
_noted_elsewhere: frozenset[str] = frozenset()


def _note_word(field_name: str, word: str, stored_as: str) -> None:
    with _NOTING:  # a plugin may build records in several threads (regions in parallel)
        if (field_name, word) in _NOTED or len(_NOTED) >= _MAX_NOTED:
            return
        _NOTED.add((field_name, word))
    if field_name not in _noted_elsewhere:
        logger.warning("%s", unknown_word_note(field_name, word, stored_as))


def _begin_run(*, under_service: bool) -> None:
    """A collection begins (``serve`` and ``testing`` say so): each word outside the
    vocabularies is noted again; ``under_service``: the service notes what it sees."""
    global _noted_elsewhere
    _NOTED.clear()
    _noted_elsewhere = frozenset(_SERVICE_NOTES) if under_service else frozenset()


def _text(value: Any) -> str | None:
    """The plain ``str`` of a ``str`` (or subclass, or str enum member), else None."""
    if isinstance(value, str):
        return str.__str__(value)  # the characters, whatever the subclass's __str__ says
    if isinstance(value, Enum) and isinstance(value.value, str):
        return str.__str__(value.value)
    return None


def _integer(value: Any) -> int | None:
    """The plain ``int`` of an integer (``int`` subclasses, integral ``Decimal``,
    ``numbers.Integral``), else None; a ``bool`` is not an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, numbers.Integral):
        return int(value)
    return None


def _number(value: Any) -> int | float | None:
    """The plain ``int`` or ``float`` of a finite real number, else None (never a bool)."""
    number = _integer(value)
    if number is not None:
        return number
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


# -- field checks: each takes (name, value) and returns the value to keep, or raises --


def _required_str(name: str, value: Any) -> str:
    if type(value) is str and value:
        return value
    text = _text(value)
    if text:
        return text
    number = _integer(value) if text is None else None
    if number is not None:
        return str(number)
    raise ResourceValidationError(name, f"must be a non-empty string, got {describe(value)}")


def _slug(name: str, value: Any) -> str:
    text = _text(value)
    if text is not None and _SLUG.match(text):
        return text
    raise ResourceValidationError(
        name, f"must be a lowercase slug like 'virtual_machine', got {describe(value)}"
    )


def _state(name: str, value: Any) -> str:
    """The plain word; one outside the vocabulary is settled by ``settle_state``."""
    text = _text(value)
    if text is not None:
        return text
    raise ResourceValidationError(
        name, f"must be a string, got {describe(value)} (states: {', '.join(sorted(STATES))})"
    )


def _opt_str(name: str, value: Any) -> str:
    text = _text(value)
    if text is not None:
        return text
    raise ResourceValidationError(name, f"must be a string, got {describe(value)}")


def _count(name: str, value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    number = _integer(value)
    if number is not None and number >= 0:
        return number
    raise ResourceValidationError(name, f"must be a non-negative integer, got {describe(value)}")


def _size(name: str, value: Any) -> float:
    if type(value) in (int, float) and value >= 0:
        return value  # type: ignore[no-any-return]
    number = _number(value)
    if number is not None and number >= 0:
        return number
    raise ResourceValidationError(name, f"must be a non-negative number, got {describe(value)}")


def _time(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = _text(value)
    if text is not None:
        return text
    raise ResourceValidationError(
        name, f"must be a datetime or an ISO 8601 string, got {describe(value)}"
    )


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if type(value) is dict and is_plain(value):
        return value
    if isinstance(value, Mapping):
        return _plain(name, value)
    raise ResourceValidationError(name, f"must be a dict, got {describe(value)}")


def _plain(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` made of plain JSON values (``plain.py``), or an error naming the path."""
    try:
        result: dict[str, Any] = plain(value, name)
    except PlainValueError as exc:
        raise ResourceValidationError(exc.where, exc.problem) from None
    return result


def _strings(name: str, value: Any) -> list[str]:
    if type(value) is not list:
        if not isinstance(value, list | tuple | set | frozenset):
            raise ResourceValidationError(name, f"must be a list of strings, got {describe(value)}")
        is_set = isinstance(value, set | frozenset)
        value = list(value)
    else:
        is_set = False
    out = value
    for index, item in enumerate(value):
        if type(item) is str:
            continue
        text = _text(item)
        if text is None:
            raise ResourceValidationError(
                name, f"must hold strings, got {describe(item)} at index {index}"
            )
        if out is value:
            out = list(value)
        out[index] = text
    # A set has no order: sorted, so the record's content hash is the same each run.
    return sorted(out) if is_set else out


def _relationships(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise ResourceValidationError(name, f"must be a list, got {type(value).__name__}")
    out = []
    for index, item in enumerate(value):
        if type(item) is Relationship:  # checked when it was built
            out.append(
                {"target_ems_ref": item.target_ems_ref, "relationship_type": item.relationship_type}
            )
            continue
        if isinstance(item, Relationship):
            out.append(item.to_dict())
            continue
        out.append(_relationship_dict(f"{name}[{index}]", item))
    return out


def _relationship_dict(where: str, item: Any) -> dict[str, str]:
    if not isinstance(item, Mapping):
        raise ResourceValidationError(where, f"must be an object, got {describe(item)}")
    if len(item) != 2 or "target_ems_ref" not in item or "relationship_type" not in item:
        extra = sorted(map(str, set(item) - {"target_ems_ref", "relationship_type"}))
        problem = (
            f"unknown key {extra[0]!r}" if extra else "needs target_ems_ref and relationship_type"
        )
        raise ResourceValidationError(where, problem)
    target, kind = _check_relationship(
        item["target_ems_ref"], item["relationship_type"], f"{where}."
    )
    if (
        type(item) is dict
        and target is item["target_ems_ref"]
        and kind is item["relationship_type"]
    ):
        return item
    return {"target_ems_ref": target, "relationship_type": kind}


_NONE = type(None)
# kind → (its check, the types the check keeps as they are: a field whose value has
# one of them needs no second look at its type; see ResourceData.__post_init__).
_KINDS: dict[str, tuple[Callable[[str, Any], Any], frozenset[type]]] = {
    "ref": (_required_str, frozenset({str})),
    "slug": (_slug, frozenset({str})),
    "state": (_state, frozenset({str})),
    "text": (_opt_str, frozenset({str, _NONE})),
    "time": (_time, frozenset({str, _NONE})),
    "count": (_count, frozenset({int, _NONE})),
    "size": (_size, frozenset({int, float, _NONE})),
    "object": (_mapping, frozenset({dict})),
    "strings": (_strings, frozenset({list})),
    "relationships": (_relationships, frozenset({list})),
}
_KIND_BY_NAME = {
    "ems_ref": "ref",
    "resource_type_slug": "slug",
    "state": "state",
    "relationships": "relationships",
}
_KIND_BY_ANNOTATION = {
    "str | None": "text",
    "datetime | str | None": "time",
    "int | None": "count",
    "float | None": "size",
    "dict[str, Any]": "object",
    "list[str]": "strings",
}


def validate_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check one resource in its wire form (a dict of ``ResourceData`` fields).

    Returns a normalised copy without unset values (``None``, empty strings, lists
    and dicts); raises :class:`ResourceValidationError` naming the first bad field.
    The service checks every record a plugin sends with this function.
    """
    if not isinstance(data, Mapping):
        raise ResourceValidationError("resource", f"must be an object, got {type(data).__name__}")
    out: dict[str, Any] = {}
    checks = _CHECKS
    for name, value in data.items():
        check = checks.get(name)
        if check is None:
            raise ResourceValidationError(str(name), "unknown field")
        if value is None:
            continue
        value = check(name, value)
        if value or value == 0:
            out[name] = value
    word = out.get("state")
    if word is not None and word not in STATES:
        state, power_state, properties = settle_state(
            word, out.get("power_state"), out.get("properties")
        )
        out["state"] = state
        if power_state:
            out["power_state"] = power_state
        if properties:
            out["properties"] = properties
        if word:
            _note_word("state", word, state)
    if "ems_ref" not in out:
        raise ResourceValidationError("ems_ref", "is required")
    if "resource_type_slug" not in out:
        raise ResourceValidationError("resource_type_slug", "is required")
    return out


@dataclass(slots=True)
class ResourceData:
    """One resource as a plugin found it, normalised.

    Bad values are refused when the object is built, with a
    :class:`ResourceValidationError` naming the field.
    """

    ems_ref: str
    resource_type_slug: str
    name: str | None = None
    description: str | None = None
    canonical_id: str | None = None
    vendor_identifiers: dict[str, Any] = field(default_factory=dict)
    vendor_type: str | None = None
    state: str = "unknown"
    power_state: str | None = None
    boot_time: datetime | str | None = None
    region: str | None = None
    availability_zone: str | None = None
    cloud_tenant: str | None = None
    flavor: str | None = None
    cpu_count: int | None = None
    memory_mb: int | None = None
    disk_gb: float | None = None
    ip_addresses: list[str] = field(default_factory=list)
    fqdn: str | None = None
    mac_addresses: list[str] = field(default_factory=list)
    os_type: str | None = None
    os_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    provider_tags: dict[str, Any] = field(default_factory=dict)
    ansible_host: str | None = None
    ansible_connection: str | None = None
    inventory_group: str | None = None
    ems_created_on: datetime | str | None = None
    relationships: list[Relationship | dict[str, str]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[frozenset[str]]

    def __post_init__(self) -> None:
        values = _get_all(self)
        signature = tuple(map(type, values))
        if signature not in _CHECKED_SIGNATURES:
            self._check_each(values)
            values = _get_all(self)
            _remember(tuple(map(type, values)))
        # The types are known good; what is left are the checks of values.
        _check_values(self)

    def _settle_state(self, word: str) -> None:
        """A state outside the vocabulary: the nearest state, the word kept beside it."""
        self.state, self.power_state, properties = settle_state(
            word, self.power_state, self.properties
        )
        if properties is not None:
            self.properties = properties
        if word:
            _note_word("state", word, self.state)

    def _check_each(self, values: tuple[Any, ...]) -> None:
        checks = _CHECKS
        for name, value in zip(_NAMES, values, strict=True):
            if value is None:
                if name in _REQUIRED:
                    raise ResourceValidationError(name, "is required")
                continue
            checked = checks[name](name, value)
            if checked is not value:
                object.__setattr__(self, name, checked)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: every field that is set (not None, not empty; 0 is set)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceData:
        """Build from the wire form, refusing unknown fields by name."""
        return cls(**validate_record(data))


_NAMES = tuple(f.name for f in fields(ResourceData))
FIELD_KINDS: Mapping[str, str] = MappingProxyType(
    {
        f.name: _KIND_BY_NAME.get(f.name) or _KIND_BY_ANNOTATION[str(f.type)]
        for f in fields(ResourceData)
    }
)
"""Each ``ResourceData`` field, in order, and its kind: ``ref``, ``slug``, ``state``,
``text``, ``time``, ``count``, ``size``, ``object``, ``strings`` or ``relationships``."""

_CHECKS = {name: _KINDS[kind][0] for name, kind in FIELD_KINDS.items()}
ResourceData.FIELDS = frozenset(_NAMES)


def _new_slug(value: str) -> None:
    _slug("resource_type_slug", value)
    if len(_CHECKED_SLUGS) < 1024:
        _CHECKED_SLUGS.add(value)


def _empty_ref() -> None:
    raise ResourceValidationError("ems_ref", "must be a non-empty string, got str ''")


# Per kind: the check of a value whose type is known good (``{n}``: the field's name).
# Lists and objects hold items of any type; a state may be a word to settle.
_VALUE_CHECKS = {
    "ref": ["if not self.{n}: _empty_ref()"],
    "slug": ["if self.{n} not in _CHECKED_SLUGS: _new_slug(self.{n})"],
    "state": ["if self.{n} not in STATES: self._settle_state(self.{n})"],
    "count": ["value = self.{n}", "if value is not None and value < 0: _count({n!r}, value)"],
    "size": ["value = self.{n}", "if value is not None and value < 0: _size({n!r}, value)"],
    "strings": [
        "for item in self.{n}:",
        "    if type(item) is not str:",
        "        object.__setattr__(self, {n!r}, _strings({n!r}, self.{n}))",
        "        break",
    ],
    "object": [
        "value = self.{n}",
        "if value and not is_plain(value): object.__setattr__(self, {n!r}, _plain({n!r}, value))",
    ],
    "relationships": ["if self.{n}: self.{n} = _relationships({n!r}, self.{n})"],
}


def _compile_value_checks() -> Callable[[ResourceData], None]:
    """The checks of values left once the types are known good, unrolled over the
    fields (as ``to_dict`` is): they run for every resource of every collection.
    The state comes before the objects: settling it may add to ``properties``."""
    lines = ["def check_values(self):"]
    for name, kind in FIELD_KINDS.items():
        lines.extend(f"    {line}".format(n=name) for line in _VALUE_CHECKS.get(kind, ()))
    lines.append("    return None")
    namespace: dict[str, Any] = {
        "_empty_ref": _empty_ref,
        "_new_slug": _new_slug,
        "_CHECKED_SLUGS": _CHECKED_SLUGS,
        "STATES": STATES,
        "_count": _count,
        "_size": _size,
        "_strings": _strings,
        "is_plain": is_plain,
        "_plain": _plain,
        "_relationships": _relationships,
    }
    exec("\n".join(lines), namespace)
    function: Callable[[ResourceData], None] = namespace["check_values"]
    return function


def _compile_to_dict() -> Callable[[ResourceData], dict[str, Any]]:
    """``to_dict`` unrolled over the fields: half the time of a loop over them, and it
    runs once per resource in every collection."""
    lines = ["def to_dict(self):", "    out = {}"]
    for name in _NAMES:
        lines.append(f"    value = self.{name}")
        lines.append(f"    if value or (value == 0 and value is not None): out[{name!r}] = value")
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)
    function: Callable[[ResourceData], dict[str, Any]] = namespace["to_dict"]
    return function


_to_dict = _compile_to_dict()
_get_all = attrgetter(*_NAMES)

# The fast path of ResourceData.__post_init__: a tuple of field types that passed the
# full check once is known good, and only value checks remain for later objects.
_REQUIRED = frozenset({"ems_ref", "resource_type_slug", "state"})
_ALLOWED_TYPES = tuple(_KINDS[kind][1] for kind in FIELD_KINDS.values())
_CHECKED_SIGNATURES: set[tuple[type, ...]] = set()
_CHECKED_SLUGS: set[str] = set()
_check_values = _compile_value_checks()


def _remember(signature: tuple[type, ...]) -> None:
    if len(_CHECKED_SIGNATURES) >= 4096:
        return
    if all(kind in allowed for kind, allowed in zip(signature, _ALLOWED_TYPES, strict=True)):
        _CHECKED_SIGNATURES.add(signature)
