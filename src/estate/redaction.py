"""Text that leaves a plugin or a secret's reach: secrets masked, NUL escaped.

A small helper below every layer: the plugin runtime masks the log lines of its
processes, jobs mask run logs and events, and both escape NUL characters (which
PostgreSQL stores in no text column) in text that must be kept rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "escaped", "mask", "maskable"]

MASK = "***"


def maskable(values: Iterable[Any]) -> tuple[str, ...]:
    """The secret values worth masking in text (3 characters or more), longest first."""
    found = {str(v) for v in values if isinstance(v, str | int) and len(str(v)) >= 3}
    return tuple(sorted(found, key=len, reverse=True))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` (from :func:`maskable`) replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def escaped(text: str) -> str:
    """``text`` with its NUL characters written ``\\x00``: what is stored of text a
    plugin printed or raised, which must be kept rather than refused."""
    return text.replace("\x00", "\\x00")
