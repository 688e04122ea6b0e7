"""Secrets at rest: Fernet with a key from ``ESTATE_SECRET_KEY`` or a key file.

The key file (``<data_dir>/secret.key``, mode 0600) is created on first use, so a
fresh install encrypts from the first provider on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from .config import Settings

__all__ = ["ENCRYPTED", "SecretBox", "SecretKeyError"]

ENCRYPTED = "$encrypted$"


class SecretKeyError(Exception):
    """The stored secrets cannot be opened with the configured key."""


def _load_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.resolved_data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Path(path).read_bytes().strip()


class SecretBox:
    """Encrypts and decrypts a dict of secret values as one token."""

    def __init__(self, settings: Settings) -> None:
        try:
            self._fernet = Fernet(_load_key(settings))
        except ValueError as exc:
            raise SecretKeyError(
                "ESTATE_SECRET_KEY is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from exc

    def seal(self, values: dict[str, Any]) -> str | None:
        if not values:
            return None
        return self._fernet.encrypt(orjson.dumps(values)).decode()

    def open(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            values: dict[str, Any] = orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretKeyError(
                "stored credentials cannot be decrypted: the secret key changed; "
                "restore the old ESTATE_SECRET_KEY or key file, or re-enter the credentials"
            ) from exc
        return values
