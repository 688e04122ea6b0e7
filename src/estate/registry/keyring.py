"""The keyring: the Ed25519 public keys plugin signatures are checked against.

Keys are installation-wide (``organization_id`` None) or an organization's. One of
them is the installation's own *managed* key: generated at the first start, its
private half sealed with the secret box in ``<data dir>/managed-signing.key`` (never in
the database, never answered by the API), it signs the built-in plugins as they are
registered; revoking it makes a new one at the next registration (start or refresh),
which signs the built-ins again. Revoking a key makes every version it signed ``invalid`` at once, and
such a version is refused at its next start.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion, SigningKey
from ..db.states import SignatureStatus, Trust
from .errors import SigningKeyExists, SigningKeyRevoked
from .signing import key_id_of, load_private, load_public, new_private_key, private_pem, public_text

logger = logging.getLogger(__name__)

MANAGED_KEY_FILE = "managed-signing.key"
MANAGED_KEY_NAME = "Estate managed plugins (this installation)"


class Sealer(Protocol):
    """What keeps the managed private key sealed at rest: the service's secret box."""

    def seal(self, values: dict[str, Any]) -> str | None: ...

    def open(self, token: str | None) -> dict[str, Any]: ...


def lookup(session: Session, key_id: str) -> SigningKey | None:
    return session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))


def import_key(
    session: Session,
    *,
    name: str,
    public_key: str,
    organization_id: int | None,
    created_by: str,
) -> SigningKey:
    """Add a public key (PEM or base64 of its raw 32 bytes); commits.

    Raises ``InvalidSigningKey`` for a key that is not Ed25519, ``SigningKeyExists``
    for one in the keyring already (revoked or not: a revoked key is never re-admitted).
    """
    public = load_public(public_key)
    key_id = key_id_of(public)
    found = lookup(session, key_id)
    if found is not None:
        state = " (revoked)" if found.revoked_at is not None else ""
        raise SigningKeyExists(f"public_key: key {key_id} is in the keyring already{state}")
    key = SigningKey(
        key_id=key_id,
        name=name,
        public_key=public_text(public),
        organization_id=organization_id,
        created_by=created_by,
        managed=False,
    )
    session.add(key)
    session.commit()
    return key


def revoke(session: Session, key: SigningKey, reason: str) -> int:
    """Revoke ``key``; every version it signed becomes ``invalid``. Commits; returns
    how many versions that touched. Raises ``SigningKeyRevoked`` if it is already."""
    if key.revoked_at is not None:
        raise SigningKeyRevoked(f"key {key.key_id} was revoked already ({key.revoked_reason})")
    key.revoked_at = datetime.now(UTC)
    key.revoked_reason = reason
    touched = 0
    for version in signed_by(session, key.key_id):
        version.signature_status = SignatureStatus.INVALID
        version.trust = Trust.UNSIGNED
        version.signature = {**(version.signature or {}), "problem": f"key revoked: {reason}"}
        touched += 1
    session.commit()
    logger.warning(
        "signing key %s revoked (%s): %d version(s) now invalid", key.key_id, reason, touched
    )
    return touched


def signed_by(session: Session, key_id: str) -> list[PluginVersion]:
    """The versions whose recorded signature is by ``key_id`` (few: read and filtered here,
    the same on both backends)."""
    signed = session.scalars(select(PluginVersion).where(PluginVersion.signature.is_not(None)))
    return [v for v in signed if (v.signature or {}).get("key_id") == key_id]


def managed_private_key(session: Session, settings: Settings, box: Sealer) -> Ed25519PrivateKey:
    """This installation's managed key, made at the first call; its public half is in
    the keyring (``managed``). A key file that was lost gives a new key; the old one
    is revoked, and the built-ins are signed again as they are registered."""
    path = settings.resolved_data_dir / MANAGED_KEY_FILE
    if path.is_file():
        sealed = box.open(path.read_text().strip())
        private = load_private(str(sealed.get("pem", "")).encode(), str(path))
        known = lookup(session, key_id_of(private.public_key()))
        if known is None or known.revoked_at is None:
            _ensure_managed_public(session, private)
            return private
        # Revoked through the API: that is how the managed key is rotated.
        logger.warning("the managed signing key %s was revoked; making a new one", known.key_id)
    private = new_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write((box.seal({"pem": private_pem(private).decode()}) or "") + "\n")
    staged.rename(path)
    _ensure_managed_public(session, private)
    return private


def _ensure_managed_public(session: Session, private: Ed25519PrivateKey) -> None:
    key_id = key_id_of(private.public_key())
    if lookup(session, key_id) is not None:
        return
    for old in session.scalars(
        select(SigningKey).where(SigningKey.managed.is_(True), SigningKey.revoked_at.is_(None))
    ):
        revoke(session, old, "the managed key file was replaced")
    session.add(
        SigningKey(
            key_id=key_id,
            name=MANAGED_KEY_NAME,
            public_key=public_text(private.public_key()),
            organization_id=None,
            created_by="estate",
            managed=True,
        )
    )
    session.commit()
