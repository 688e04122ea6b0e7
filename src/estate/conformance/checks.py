"""The check registry: every check is a named, documented function, run in the order declared.

A check is ``def check(session) -> str``: it returns what it saw when it passes, and
raises ``Failed`` (what was expected and what was seen), ``Skipped`` (why it cannot
run here) or ``Blocked`` (an earlier failure leaves nothing to check: reported as an
error). Its name is ``<profile>.<action or subject>.<what it proves>``; its docstring's
first paragraph is what docs/conformance.md says of it (a test keeps the two together).

A check of an action (``action=``) runs only when the plugin declares that action, or
when the profile requires it (then an undeclared action fails the check). Its failure
fails the profile when the profile requires the action, and makes it ``partial``
otherwise; a check of no action is always required.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from inventory_providers.profiles import PROFILES

from .report import BASE

if TYPE_CHECKING:
    from .session import Session

CheckFunction = Callable[["Session"], str]
F = TypeVar("F", bound=CheckFunction)


class Failed(Exception):
    """The plugin does not do what the check proves; the message says expected and seen."""


class Skipped(Exception):
    """The check cannot run against this plugin or platform; the message says why."""


class Blocked(Exception):
    """An earlier failure (the plugin does not start, no collection) leaves nothing to check."""


@dataclass(frozen=True)
class Check:
    name: str
    function: CheckFunction
    action: str | None = None
    last: bool = False

    @property
    def profile(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def required(self) -> bool:
        """Whether the check's failure fails its profile (``partial`` otherwise)."""
        if self.profile == BASE or self.action is None:
            return True
        return self.action in PROFILES[self.profile].required

    @property
    def doc(self) -> str:
        """The first paragraph of the function's docstring, on one line."""
        text = inspect.getdoc(self.function) or ""
        return " ".join(text.split("\n\n", 1)[0].split())


REGISTRY: list[Check] = []


def check(name: str, *, action: str | None = None, last: bool = False) -> Callable[[F], F]:
    """Register the decorated function as the check ``name`` (see the module docstring)."""
    profile = name.split(".", 1)[0]
    if profile != BASE and profile not in PROFILES:
        raise ValueError(f"check {name!r}: unknown profile {profile!r}")
    if any(known.name == name for known in REGISTRY):
        raise ValueError(f"check {name!r} is registered twice")

    def register(function: F) -> F:
        if not inspect.getdoc(function):
            raise ValueError(f"check {name!r} needs a docstring: what it proves")
        REGISTRY.append(Check(name, function, action, last))
        return function

    return register


def checks_of(profile: str) -> list[Check]:
    """The checks of ``profile`` in the order they run (a ``last`` one after the rest)."""
    mine = [c for c in REGISTRY if c.profile == profile]
    return [c for c in mine if not c.last] + [c for c in mine if c.last]
