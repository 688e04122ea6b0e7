"""Bodies of the signing keys (routes/signing_keys.py): public keys only, ever."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .schemas import _Strict


class SigningKeyCreate(_Strict):
    """``POST signing-keys/``: import a public key."""

    name: str = Field(min_length=1, max_length=200)
    public_key: str = Field(
        min_length=1,
        max_length=1000,
        description="Ed25519 public key: PEM, or base64 of its raw 32 bytes "
        "(`estate plugin keygen` writes both)",
    )
    organization: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="The organization whose key it is (its admins may import and revoke "
        "it); null: installation-wide (system administrators only)",
    )


class SigningKeyRevoke(_Strict):
    """``POST signing-keys/{key_id}/revoke/``."""

    reason: str = Field(min_length=1, max_length=1000)


class SigningKeyPublic(BaseModel):
    id: int
    key_id: str = Field(description="The key's fingerprint: sha256 of its raw bytes, 32 hex")
    name: str
    algorithm: str = "ed25519"
    public_key: str = Field(description="Base64 of the raw 32 bytes")
    organization: int | None
    managed: bool = Field(description="This installation's own key, which signs the built-ins")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_reason: str
    versions_revoked: int | None = Field(
        default=None, description="In a revoke's answer: the versions that became invalid"
    )
