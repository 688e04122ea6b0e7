"""Ed25519 signatures over a plugin version's file list (the ``cryptography`` library).

What is signed is the domain-separated message ``estate-plugin-v1\\0<key>\\0<version>\\0
<files_digest>``: a signature vouches for exactly those files of exactly that plugin
version, and cannot be replayed onto another key or version or taken for a signature
of anything else. It travels as the ``SIGNATURE`` file at the plugin's root (JSON
``{key_id, algorithm, signature, files_digest}``), outside the file list it signs.

A key's id is a fingerprint of its public half: the first 32 hex digits of the sha256
of the raw 32 bytes. Private keys are PEM (PKCS#8); public keys PEM or the raw 32 bytes
in base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..runtime.integrity import SIGNATURE_FILE
from .errors import InvalidPackage, InvalidSigningKey

ALGORITHM = "ed25519"
DOMAIN = b"estate-plugin-v1\0"
RAW_KEY_BYTES = 32
_MAX_SIGNATURE_FILE = 4096


@dataclass(frozen=True)
class Signature:
    """A plugin's ``SIGNATURE``: who signed which file list digest."""

    key_id: str
    algorithm: str
    signature: str  # base64 of the 64 signature bytes
    files_digest: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def message(key: str, version: str, files_digest: str) -> bytes:
    """The bytes a plugin version's signature is over."""
    return DOMAIN + f"{key}\0{version}\0{files_digest}".encode()


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    """The fingerprint that names ``public``."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:32]


def public_text(public: Ed25519PublicKey) -> str:
    """How a public key is stored and shown: its raw 32 bytes in base64."""
    return base64.b64encode(raw_public(public)).decode()


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(data: bytes, where: str = "private key") -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; ``InvalidSigningKey`` naming ``where`` otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidSigningKey(f"{where}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidSigningKey(f"{where}: not an Ed25519 key ({type(key).__name__})")
    return key


def load_public(text: str, where: str = "public_key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or from base64 of its raw 32 bytes.

    Raises ``InvalidSigningKey`` naming ``where`` and what was wrong.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise InvalidSigningKey(f"{where}: not a PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidSigningKey(f"{where}: not an Ed25519 key ({type(key).__name__})")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSigningKey(
            f"{where}: neither PEM nor base64 (an Ed25519 public key is 32 bytes)"
        ) from None
    if len(raw) != RAW_KEY_BYTES:
        raise InvalidSigningKey(
            f"{where}: an Ed25519 public key is {RAW_KEY_BYTES} bytes; this is {len(raw)}"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(private: Ed25519PrivateKey, key: str, version: str, files_digest: str) -> Signature:
    """The signature of plugin ``key`` ``version`` whose file list has ``files_digest``."""
    raw = private.sign(message(key, version, files_digest))
    return Signature(
        key_id=key_id_of(private.public_key()),
        algorithm=ALGORITHM,
        signature=base64.b64encode(raw).decode(),
        files_digest=files_digest,
    )


def is_genuine(
    public: Ed25519PublicKey, signature: Signature, key: str, version: str, files_digest: str
) -> bool:
    """Whether ``signature`` is ``public``'s over this plugin version and file list."""
    try:
        raw = base64.b64decode(signature.signature, validate=True)
        public.verify(raw, message(key, version, files_digest))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def read_signature(folder: Path) -> Signature | None:
    """The ``SIGNATURE`` at the root of a plugin folder; None when there is none.

    Raises ``InvalidPackage`` naming the file and the field for one that is malformed.
    """
    path = folder / SIGNATURE_FILE
    if not path.is_file():
        return None
    data = path.read_bytes()[: _MAX_SIGNATURE_FILE + 1]
    if len(data) > _MAX_SIGNATURE_FILE:
        raise InvalidPackage(f"{SIGNATURE_FILE}: over {_MAX_SIGNATURE_FILE} bytes")
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise InvalidPackage(f"{SIGNATURE_FILE}: not JSON ({exc})") from None
    return signature_from(value, SIGNATURE_FILE)


def signature_from(value: object, where: str) -> Signature:
    """A ``Signature`` from its JSON; ``InvalidPackage`` naming ``where`` and the field."""
    if not isinstance(value, dict):
        raise InvalidPackage(f"{where}: must be a JSON object")
    fields = {"key_id", "algorithm", "signature", "files_digest"}
    unknown = sorted(set(value) - fields)
    if unknown:
        raise InvalidPackage(f"{where}: unknown field {unknown[0]!r}")
    for name in sorted(fields):
        if not isinstance(value.get(name), str) or not value[name]:
            raise InvalidPackage(f"{where}: {name}: a non-empty string is required")
    if value["algorithm"] != ALGORITHM:
        raise InvalidPackage(
            f"{where}: algorithm: {value['algorithm']!r} is not supported (only {ALGORITHM!r})"
        )
    return Signature(**{name: value[name] for name in fields})


def write_signature(folder: Path, signature: Signature) -> Path:
    """Write ``SIGNATURE`` at the root of ``folder``; returns its path."""
    path = folder / SIGNATURE_FILE
    path.write_text(json.dumps(signature.as_json(), indent=2, sort_keys=True) + "\n")
    return path
