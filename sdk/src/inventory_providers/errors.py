"""Errors a provider plugin raises; the service maps each ``kind`` to a clear message.

    ProviderError                 kind="internal"
    ├── InvalidConfig             kind="invalid_config"   bad or missing connection parameter
    ├── Unauthenticated           kind="unauthenticated"  credentials refused
    ├── Unreachable               kind="unreachable"      endpoint cannot be reached
    ├── NotFound                  kind="not_found"        the object asked for does not exist
    ├── Unsupported               kind="unsupported"      the plugin cannot do this
    ├── InvalidParameter          kind="invalid_parameter" an action's parameter is wrong
    └── ProviderTimeout           kind="timeout"          the platform did not answer in time

Messages must never contain a secret: the service shows them to users and logs them.
"""

from __future__ import annotations

__all__ = [
    "KINDS",
    "InvalidConfig",
    "InvalidParameter",
    "NotFound",
    "ProviderError",
    "ProviderTimeout",
    "Unauthenticated",
    "Unreachable",
    "Unsupported",
    "kind_of",
]


class ProviderError(Exception):
    """Base of every error a plugin raises on purpose."""

    kind = "internal"


class InvalidConfig(ProviderError):
    """A connection parameter is missing or wrong; the message names it."""

    kind = "invalid_config"


class Unauthenticated(ProviderError):
    """The platform refused the credentials."""

    kind = "unauthenticated"


class Unreachable(ProviderError):
    """The endpoint cannot be reached, or the connection was lost."""

    kind = "unreachable"


class NotFound(ProviderError):
    """The object asked for does not exist on the platform."""

    kind = "not_found"


class Unsupported(ProviderError):
    """The plugin or the platform cannot do what was asked."""

    kind = "unsupported"


class InvalidParameter(ProviderError):
    """An action was given a parameter it does not take, or a bad value; the message names it."""

    kind = "invalid_parameter"


class ProviderTimeout(ProviderError):
    """The platform did not answer in time."""

    kind = "timeout"


KINDS = frozenset(
    {
        "invalid_config",
        "invalid_parameter",
        "unauthenticated",
        "unreachable",
        "not_found",
        "unsupported",
        "timeout",
        "internal",
        "protocol",
        "canceled",
    }
)


def kind_of(exc: BaseException) -> str:
    """The wire ``kind`` for any exception a plugin let escape."""
    if isinstance(exc, ProviderError):
        return exc.kind
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "unreachable"
    if isinstance(exc, NotImplementedError):
        return "unsupported"
    return "internal"
