"""Version policies: which stored versions of a plugin a provider may run.

A policy is text (docs/repository.md, "Version policies"):

============== ==========================================
``1.4.2``      exactly that version (a pin)
``~1.4``       ``>=1.4.0,<1.5.0`` (``~1.4.2``: ``>=1.4.2,<1.5.0``; ``~1``: ``<2.0.0``)
``^1.4``       ``>=1.4.0,<2.0.0`` (``^0.4``: ``>=0.4.0,<0.5.0``)
``>=1.2,<2``   every comparator holds (``>=``, ``>``, ``<=``, ``<``, ``=``, ``!=``)
None           the latest compatible version
============== ==========================================

Pre-releases (``2.0.0-rc.1``) match only a policy that names a pre-release of the
same release itself (``2.0.0-rc.1``; ``>=2.0.0-rc.1`` admits ``2.0.0-rc.2``). The same grammar reads a manifest's
``requires_estate``, checked against the service's own version.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_POLICY_LENGTH = 100

_NUMBER = r"(?:0|[1-9]\d*)"
_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_FULL = re.compile(
    rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_IDENT}(?:\.{_IDENT})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
_PARTIAL = re.compile(rf"({_NUMBER})(?:\.({_NUMBER}))?(?:\.({_NUMBER}))?")
_COMPARATOR = re.compile(r"(>=|<=|>|<|==|=|!=)\s*(\S+)")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}


class PolicyError(ValueError):
    """A policy that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Policy:
    """A parsed policy; ``text`` is None for "the latest compatible version"."""

    text: str | None
    exact: str | None = None
    bounds: tuple[tuple[str, str], ...] = ()

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    def matches(self, version: str) -> bool:
        """Whether ``version`` (a SemVer string) satisfies the policy."""
        if self.exact is not None:
            return version == self.exact
        if is_prerelease(version) and _core(version) not in self._prerelease_cores():
            return False
        key = semver_key(version)
        return all(_OPERATORS[op](key, semver_key(bound)) for op, bound in self.bounds)

    def _prerelease_cores(self) -> set[str]:
        """The X.Y.Z of the pre-releases the policy names: as npm does, those are the
        only releases whose pre-releases it admits (``>=2.0.0-rc.1,<3`` admits
        ``2.0.0-rc.2``, not ``2.1.0-rc.1``)."""
        return {_core(bound) for _, bound in self.bounds if is_prerelease(bound)}


LATEST = Policy(text=None)


def _core(version: str) -> str:
    return version.split("+", 1)[0].partition("-")[0]


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key of a SemVer string: 1.2.3-rc.1 < 1.2.3 < 1.10.0; build metadata ignored."""
    core, _, prerelease = version.split("+", 1)[0].partition("-")
    numbers = tuple(int(part) if part.isdigit() else 0 for part in core.split("."))
    if not prerelease:
        return (*numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (*numbers, 0, parts)


def is_prerelease(version: str) -> bool:
    """Whether a SemVer string is a pre-release (``1.0.0-rc.1``)."""
    return "-" in version.split("+", 1)[0]


def parse_policy(text: str | None) -> Policy:
    """The policy ``text`` says, or ``PolicyError`` naming what is wrong."""
    if text is None:
        return LATEST
    if not isinstance(text, str):
        raise PolicyError(f"must be a string or null, not {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise PolicyError("must not be empty (null means the latest compatible version)")
    if len(raw) > MAX_POLICY_LENGTH:
        raise PolicyError(f"longer than {MAX_POLICY_LENGTH} characters")
    if _FULL.fullmatch(raw):
        return Policy(text=raw, exact=raw)
    if raw[0] in "~^":
        return _shorthand(raw)
    return _comparators(raw)


def _shorthand(raw: str) -> Policy:
    """``~1.4`` / ``^1.4`` and their variants as a pair of bounds."""
    found = _PARTIAL.fullmatch(raw[1:].strip())
    if found is None:
        raise PolicyError(f"{raw!r}: {raw[0]} takes a version such as {raw[0]}1.4 or {raw[0]}1.4.2")
    major, minor, patch = (int(part) if part is not None else None for part in found.groups())
    assert major is not None  # the pattern requires it
    low = f"{major}.{minor or 0}.{patch or 0}"
    if raw[0] == "~" and minor is not None:
        high = f"{major}.{minor + 1}.0"
    elif raw[0] == "~" or major > 0 or minor is None:
        high = f"{major + 1}.0.0"
    else:  # ^0.4: a 0.x minor may break
        high = f"0.{minor + 1}.0"
    return Policy(text=raw, bounds=((">=", low), ("<", high)))


def _comparators(raw: str) -> Policy:
    """``>=1.2,<2``: every comma-separated comparator must hold."""
    bounds: list[tuple[str, str]] = []
    for index, part in enumerate(p.strip() for p in raw.split(",")):
        found = _COMPARATOR.fullmatch(part)
        if found is None:
            raise PolicyError(
                f"{raw!r}: part {index + 1} ({part!r}) is not a version, ~X.Y, ^X.Y "
                "or a comparator such as >=1.2 or <2"
            )
        op, version = found.groups()
        bounds.append((op, _full(version, raw)))
    return Policy(text=raw, bounds=tuple(bounds))


def _full(version: str, raw: str) -> str:
    """``1`` → ``1.0.0``, ``1.4`` → ``1.4.0``; a full version as it is."""
    if _FULL.fullmatch(version):
        return version
    found = _PARTIAL.fullmatch(version)
    if found is None:
        raise PolicyError(f"{raw!r}: {version!r} is not a version such as 1, 1.4 or 1.4.2")
    major, minor, patch = (part or "0" for part in found.groups())
    return f"{major}.{minor}.{patch}"
