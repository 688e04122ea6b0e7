"""``ResourceData``: one resource as a plugin found it, and the checks of its fields.

Each field's check follows from its kind, and its kind from its annotation in
``ResourceData`` (``str | None`` is free text, ``int | None`` a count, …); the four
fields with rules of their own are named in ``_KIND_BY_NAME``. A new field is one
annotated line in the dataclass. :data:`FIELD_KINDS` lists the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar

from .vocabulary import RELATIONSHIP_TYPES, STATES

__all__ = [
    "FIELD_KINDS",
    "Relationship",
    "ResourceData",
    "ResourceValidationError",
    "validate_record",
]

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
        _check_relationship(self.target_ems_ref, self.relationship_type, "")

    def to_dict(self) -> dict[str, str]:
        return {"target_ems_ref": self.target_ems_ref, "relationship_type": self.relationship_type}


def _check_relationship(target: Any, kind: Any, where: str) -> None:
    if type(target) is not str or not target:
        raise ResourceValidationError(f"{where}target_ems_ref", "must be a non-empty string")
    if kind not in RELATIONSHIP_TYPES:
        raise ResourceValidationError(
            f"{where}relationship_type",
            f"unknown type {kind!r}; expected one of {', '.join(sorted(RELATIONSHIP_TYPES))}",
        )


# -- field checks: each takes (name, value) and returns the value to keep, or raises --


def _required_str(name: str, value: Any) -> str:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise ResourceValidationError(name, f"must be a non-empty string, got {value!r}")


def _slug(name: str, value: Any) -> str:
    if type(value) is str and _SLUG.match(value):
        return value
    raise ResourceValidationError(
        name, f"must be a lowercase slug like 'virtual_machine', got {value!r}"
    )


def _state(name: str, value: Any) -> str:
    if value in STATES:
        return str(value)
    raise ResourceValidationError(
        name, f"unknown state {value!r}; expected one of {', '.join(sorted(STATES))}"
    )


def _opt_str(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    raise ResourceValidationError(name, f"must be a string, got {type(value).__name__}")


def _count(name: str, value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    raise ResourceValidationError(name, f"must be a non-negative integer, got {value!r}")


def _size(name: str, value: Any) -> float:
    if type(value) in (int, float) and value >= 0:
        return value  # type: ignore[no-any-return]
    raise ResourceValidationError(name, f"must be a non-negative number, got {value!r}")


def _time(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise ResourceValidationError(name, "must be a datetime or an ISO 8601 string")


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise ResourceValidationError(name, f"must be a dict, got {type(value).__name__}")


def _strings(name: str, value: Any) -> list[str]:
    if type(value) is not list:
        if not isinstance(value, tuple | set | frozenset):
            raise ResourceValidationError(name, f"must be a list of strings, got {value!r}")
        value = list(value)
    for item in value:
        if type(item) is not str:
            raise ResourceValidationError(name, f"must hold strings, got {item!r}")
    return value  # type: ignore[no-any-return]


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
    if type(item) is not dict:
        raise ResourceValidationError(where, f"must be an object, got {item!r}")
    if len(item) != 2 or "target_ems_ref" not in item or "relationship_type" not in item:
        extra = sorted(set(item) - {"target_ems_ref", "relationship_type"})
        problem = (
            f"unknown key {extra[0]!r}" if extra else "needs target_ems_ref and relationship_type"
        )
        raise ResourceValidationError(where, problem)
    _check_relationship(item["target_ems_ref"], item["relationship_type"], f"{where}.")
    return item


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
        if not values[0]:
            raise ResourceValidationError("ems_ref", "must be a non-empty string, got ''")
        if values[1] not in _CHECKED_SLUGS:
            _slug("resource_type_slug", values[1])
            if len(_CHECKED_SLUGS) < 1024:
                _CHECKED_SLUGS.add(values[1])
        if values[_STATE] not in STATES:
            _state("state", values[_STATE])
        for index in _NUMBERS:
            number = values[index]
            if number is not None and number < 0:
                _CHECKS[_NAMES[index]](_NAMES[index], number)
        for index in _LISTS:
            items = values[index]
            if items and not set(map(type, items)) <= _ONLY_STR:
                _strings(_NAMES[index], items)
        if values[_RELATIONSHIPS]:
            self.relationships = _relationships("relationships", values[_RELATIONSHIPS])  # type: ignore[assignment]

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
_ONLY_STR = frozenset({str})
_STATE = _NAMES.index("state")
_RELATIONSHIPS = _NAMES.index("relationships")
_NUMBERS = tuple(i for i, kind in enumerate(FIELD_KINDS.values()) if kind in ("count", "size"))
_LISTS = tuple(i for i, kind in enumerate(FIELD_KINDS.values()) if kind == "strings")


def _remember(signature: tuple[type, ...]) -> None:
    if len(_CHECKED_SIGNATURES) >= 4096:
        return
    if all(kind in allowed for kind, allowed in zip(signature, _ALLOWED_TYPES, strict=True)):
        _CHECKED_SIGNATURES.add(signature)
