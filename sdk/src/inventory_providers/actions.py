"""Lifecycle actions: the ``@action`` decorator, parameter specs, and their checks.

A provider method becomes an action the service offers to operators::

    class Provider(BaseProvider):
        @action("shutdown", applies_to=["virtual_machine"], profile="core",
                params=[Param("timeout", "integer", default=300, description="seconds")])
        def shutdown(self, ems_ref, params):
            ...

The method is called as ``method(self, ems_ref, params)``: ``ems_ref`` is the resource
(None for a provider-level action, ``applies_to="provider"``), ``params`` the checked
arguments with defaults filled in. An action of a standard profile (``profiles.py``)
must have the profile's parameters; a class whose action does not fails when it is
defined, naming the action and the parameter. ``available`` names a method
``(self, resource: dict) -> (bool, reason)`` that says whether the action can run on
that resource now (the stored record, as the service knows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "PARAM_TYPES",
    "PROVIDER_LEVEL",
    "ActionDefinitionError",
    "ActionSpec",
    "Param",
    "action",
    "check_params",
    "declared_actions",
]

PARAM_TYPES = ("string", "integer", "number", "boolean", "list", "dict")
PROVIDER_LEVEL = "provider"
"""``applies_to`` of an action on the provider itself (list templates, create an instance)."""

_SPEC_ATTRIBUTE = "__inventory_action__"
F = TypeVar("F", bound=Callable[..., Any])


class ActionDefinitionError(TypeError):
    """An action is declared wrongly; the message names the action and what is wrong."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an action: its name, type, whether it is required, its default."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    description: str = ""
    secret: bool = False
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ActionDefinitionError(f"Param: name must be an identifier, got {self.name!r}")
        if self.type not in PARAM_TYPES:
            raise ActionDefinitionError(
                f"Param {self.name!r}: type must be one of {', '.join(PARAM_TYPES)}, "
                f"got {self.type!r}"
            )
        if self.required and self.default is not None:
            raise ActionDefinitionError(f"Param {self.name!r}: a required parameter has no default")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": None if self.secret else self.default,
            "description": self.description,
            "secret": self.secret,
        }
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """What the decorator records about one action (and ``define`` reports)."""

    name: str
    method: str
    applies_to: tuple[str, ...]
    params: tuple[Param, ...] = ()
    profile: str = "advanced"
    long_running: bool = False
    idempotent: bool = False
    description: str = ""
    available: str | None = None
    cancelable: bool = False

    @property
    def is_provider_level(self) -> bool:
        return self.applies_to == (PROVIDER_LEVEL,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applies_to": list(self.applies_to),
            "params": [param.to_dict() for param in self.params],
            "profile": self.profile,
            "long_running": self.long_running,
            "idempotent": self.idempotent,
            "description": self.description,
            "cancelable": self.cancelable,
        }


def action(
    name: str | None = None,
    *,
    applies_to: str | Iterable[str],
    params: Iterable[Param] = (),
    profile: str = "advanced",
    long_running: bool = False,
    idempotent: bool = False,
    description: str = "",
    available: str | None = None,
    cancelable: bool = False,
) -> Callable[[F], F]:
    """Declare the decorated method an action (see the module's docstring).

    ``applies_to``: resource type slugs, or ``"provider"``. ``available``: the name of
    a method ``(self, resource) -> (bool, reason)``. ``cancelable``: the method checks
    ``self.canceled`` and stops early.
    """
    targets = (applies_to,) if isinstance(applies_to, str) else tuple(applies_to)

    def mark(method: F) -> F:
        spec_name = name or method.__name__
        if not targets:
            raise ActionDefinitionError(f"action {spec_name!r}: applies_to is empty")
        declared = tuple(params)
        names = [param.name for param in declared]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ActionDefinitionError(
                f"action {spec_name!r}: parameter {duplicate!r} declared twice"
            )
        spec = ActionSpec(
            name=spec_name,
            method=method.__name__,
            applies_to=targets,
            params=declared,
            profile=profile,
            long_running=long_running,
            idempotent=idempotent,
            description=description or (method.__doc__ or "").strip().split("\n")[0],
            available=available,
            cancelable=cancelable,
        )
        setattr(method, _SPEC_ATTRIBUTE, spec)
        return method

    return mark


def declared_actions(cls: type) -> dict[str, ActionSpec]:
    """The actions of ``cls`` and its bases, by name (a subclass's override wins)."""
    found: dict[str, ActionSpec] = {}
    for klass in reversed(cls.__mro__):
        for attribute in vars(klass).values():
            spec = getattr(attribute, _SPEC_ATTRIBUTE, None)
            if isinstance(spec, ActionSpec):
                found[spec.name] = spec
    return found


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def check_params(spec_params: Iterable[Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked against the parameters, defaults filled in.

    Raises ``ValueError`` naming the first unknown, missing or badly typed parameter.
    """
    params = {param.name: param for param in spec_params}
    for key in given:
        if key not in params:
            accepted = ", ".join(params) or "none"
            raise ValueError(f"params.{key}: unknown parameter (accepted: {accepted})")
    checked: dict[str, Any] = {}
    for param in params.values():
        if given.get(param.name) is None:
            if param.required:
                raise ValueError(f"params.{param.name}: required")
            if param.default is not None:
                checked[param.name] = param.default
            continue
        value = given[param.name]
        if not _type_ok(param.type, value):
            article = "an" if param.type[0] in "aeiou" else "a"
            raise ValueError(f"params.{param.name}: must be {article} {param.type}")
        if param.choices is not None and value not in param.choices:
            allowed = ", ".join(str(choice) for choice in param.choices)
            raise ValueError(f"params.{param.name}: must be one of {allowed}")
        checked[param.name] = value
    return checked
