"""Passwords (scrypt) and API tokens (random, stored as sha256).

Successful verifications are cached per stored hash, so HTTP Basic stays cheap per
request; :func:`forget_password` drops a hash's entries when the password changes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

_N, _R, _P = 2**14, 8, 1
TOKEN_PREFIX = "est_"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check; results are cached so HTTP Basic stays cheap per request."""
    key = (stored, hashlib.sha256(f"{stored}\0{password}".encode()).digest())
    with _lock:
        if key in _verified:
            _verified.move_to_end(key)
            return True
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    ok = hmac.compare_digest(digest, _unb64(expected))
    if ok:
        with _lock:
            _verified[key] = None
            if len(_verified) > 1024:
                _verified.popitem(last=False)
    return ok


def verify_nobody(password: str) -> None:
    """The work of :func:`verify_password` for a user that does not exist.

    Checking against a hash no password has keeps the answer's time from telling
    whether a user name exists.
    """
    verify_password(password, _dummy_hash())


def forget_password(stored: str) -> None:
    """Drop the cached verifications of ``stored``, a hash being replaced or retired."""
    with _lock:
        for key in [k for k in _verified if k[0] == stored]:
            del _verified[key]


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(32))


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(18)


_verified: OrderedDict[tuple[str, bytes], None] = OrderedDict()
_lock = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
