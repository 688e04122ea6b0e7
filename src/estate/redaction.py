"""Text that leaves a plugin or a secret's reach: secrets masked, NUL escaped.

A small helper below every layer: the plugin runtime masks the log lines of its
processes, jobs mask run logs and events, and both escape NUL characters (which
PostgreSQL stores in no text column) in text that must be kept rather than refused.

Each secret is masked in the forms a plugin or a library is likely to print it in:
as it is, base64 (standard and URL-safe, padded or not), percent-encoded (``quote``
and ``quote_plus``) and JSON-escaped. A secret of 8 characters or more is masked
wherever it appears; a shorter one (and a short form of it) only as a whole word, so
a password ``simul`` does not turn ``simulated`` into ``***ated``. Spacing or case
variations of a secret are out of reach.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_ANYWHERE", "escaped", "forms", "mask", "maskable"]

MASK = "***"
MIN_LENGTH = 3
"""Shorter values are not masked at all: they would hit too much."""
MIN_ANYWHERE = 8
"""Values at least this long are masked anywhere; shorter ones only as a whole word."""


def forms(secret: str) -> set[str]:
    """The ways ``secret`` may be written out: itself and its common encodings."""
    raw = secret.encode("utf-8", "surrogatepass")
    std, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    found = {
        secret,
        std,
        std.rstrip("="),
        url,
        url.rstrip("="),
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {form for form in found if len(form) >= MIN_LENGTH}


def maskable(values: Iterable[Any]) -> tuple[str, ...]:
    """Every form of the secret values worth masking (3 characters or more), longest first."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        text = str(value)
        if len(text) >= MIN_LENGTH:
            found |= forms(text)
    return tuple(sorted(found, key=lambda form: (-len(form), form)))


@functools.lru_cache(maxsize=256)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a set of secrets (the longest alternative first, so it wins)."""
    alternatives = []
    for secret in sorted(secrets, key=len, reverse=True):
        escaped_secret = re.escape(secret)
        if len(secret) < MIN_ANYWHERE:
            escaped_secret = rf"(?<!\w){escaped_secret}(?!\w)"
        alternatives.append(escaped_secret)
    return re.compile("|".join(alternatives)) if alternatives else None


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` (from :func:`maskable`) replaced by ``***``."""
    pattern = _pattern(secrets if isinstance(secrets, tuple) else tuple(secrets))
    return text if pattern is None else pattern.sub(MASK, text)


def escaped(text: str) -> str:
    """``text`` with its NUL characters written ``\\x00``: what is stored of text a
    plugin printed or raised, which must be kept rather than refused."""
    return text.replace("\x00", "\\x00")
