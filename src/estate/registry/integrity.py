"""A version's integrity and trust: its file list, its signature, the policy that admits it.

What is checked when (docs/repository.md, "Integrity and trust"):

- at upload (:func:`assess`, then :func:`admit`): the file list is made, the archive's
  ``SIGNATURE`` is checked against the keyring; a bad signature, one by an unknown or
  revoked key, or files that differ from what was signed are always refused; an
  unsigned package as the source's policy says (:func:`unsigned_policy`);
- at registration of a built-in (:func:`sign_managed`): listed and signed with the
  installation's managed key;
- at every plugin process start: ``runtime.integrity.verify`` against the stored list
  (a change refuses the start naming the file, and :func:`mark_modified` records it),
  and a version whose signature became ``invalid`` (its key revoked) is not started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import Event, PluginVersion, SigningKey
from ..db.states import SignatureStatus, Trust, VersionSource
from ..runtime.environments import plugin_folder
from ..runtime.integrity import FileList, file_list, files_digest
from .errors import UntrustedPackage
from .keyring import Sealer, lookup, managed_private_key
from .signing import Signature, is_genuine, load_public, read_signature, sign

logger = logging.getLogger(__name__)

Policy = Literal["refuse", "warn", "allow"]


@dataclass
class Assessment:
    """What a plugin folder's files and signature are worth, and why."""

    files: FileList
    files_digest: str
    signature: dict[str, Any] | None = None
    status: SignatureStatus = SignatureStatus.UNSIGNED
    trust: Trust = Trust.UNSIGNED
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    unknown_signer: bool = False

    def apply(self, version: PluginVersion) -> None:
        """Record this assessment on ``version``."""
        version.files = self.files
        version.files_digest = self.files_digest
        version.signature = self.signature
        version.signature_status = self.status
        version.trust = self.trust


def assess(session: Session, folder: Path, key: str, version: str) -> Assessment:
    """List ``folder``'s files and check its ``SIGNATURE`` against the keyring."""
    return assess_with(folder, key, version, lambda key_id: lookup(session, key_id))


def assess_with(
    folder: Path, key: str, version: str, find: Callable[[str], SigningKey | None]
) -> Assessment:
    """List ``folder``'s files and check its ``SIGNATURE`` with the keys ``find`` gives
    (the keyring's, or those a command line names: ``estate plugin verify``)."""
    files = file_list(folder)
    found = Assessment(files, files_digest(files))
    signature = read_signature(folder)
    if signature is not None:
        judge(found, signature, key, version, find(signature.key_id))
    return found


def judge(
    found: Assessment, signature: Signature, key: str, version: str, signer: SigningKey | None
) -> None:
    """Set ``found``'s status and trust from ``signature`` and the key it names."""
    found.signature = dict[str, Any](signature.as_json())
    found.status, found.problem = SignatureStatus.INVALID, ""
    if signature.files_digest != found.files_digest:
        found.status = SignatureStatus.MODIFIED
        found.problem = "the files differ from the ones that were signed"
    elif signer is None:
        found.problem = f"signed by key {signature.key_id}, which is not in the keyring"
        found.unknown_signer = True
    elif signer.revoked_at is not None:
        found.problem = f"signed by key {signature.key_id}, revoked: {signer.revoked_reason}"
    elif not is_genuine(
        load_public(signer.public_key), signature, key, version, found.files_digest
    ):
        found.problem = f"the signature by key {signature.key_id} does not verify"
    else:
        found.status = SignatureStatus.VALID
        found.trust = Trust.MANAGED if signer.managed else Trust.TRUSTED
        if signer.organization_id is not None:
            found.signature["organization"] = signer.organization_id
    if found.problem:
        found.signature["problem"] = found.problem


def unsigned_policy(settings: Settings, source: str) -> Policy:
    """What a package without a signature from ``source`` gets: uploads follow
    ``ESTATE_UNSIGNED_PLUGINS``; any other source (remote repositories, air-gapped
    bundles) is refused, unless the installer overrides it (``admit``'s ``unsigned``)."""
    if source == VersionSource.LOCAL:
        return settings.unsigned_plugins
    if source == VersionSource.MANAGED:
        return "allow"  # signed with the managed key as they are registered
    return "refuse"


_WHY_REFUSED: dict[str, str] = {
    VersionSource.LOCAL: "ESTATE_UNSIGNED_PLUGINS=refuse",
    VersionSource.BUNDLE: "unless `estate plugin bundle import --allow-unsigned` admits them",
}
_WHY_WARNED: dict[str, str] = {
    VersionSource.LOCAL: "as ESTATE_UNSIGNED_PLUGINS=warn allows",
    VersionSource.BUNDLE: "as `estate plugin bundle import --allow-unsigned` asked",
}


def admit(
    found: Assessment, settings: Settings, source: str, what: str, unsigned: Policy | None = None
) -> None:
    """Refuse (``UntrustedPackage``) a package the trust policy does not accept; a
    warning for an unsigned one under ``warn`` goes to ``found.notes``. ``unsigned``
    overrides the source's policy for unsigned packages (never for a bad signature)."""
    if found.status in (SignatureStatus.INVALID, SignatureStatus.MODIFIED):
        hint = ""
        if found.unknown_signer:
            hint = (
                "; to trust its signer, import the public key (`estate signing-key import`, "
                "POST signing-keys/)"
            )
        raise UntrustedPackage(f"SIGNATURE: {what}: {found.problem}; refused{hint}")
    if found.status != SignatureStatus.UNSIGNED:
        return
    policy = unsigned or unsigned_policy(settings, source)
    if policy == "refuse":
        why = _WHY_REFUSED.get(source, "always, whatever ESTATE_UNSIGNED_PLUGINS says")
        raise UntrustedPackage(
            f"{what} is not signed, and unsigned plugins from {source} sources are refused "
            f"({why}); sign it with `estate plugin sign` and import "
            "the public key with `estate signing-key import`"
        )
    if policy == "warn":
        why = _WHY_WARNED.get(source, "as allowed")
        note = f"warning: {what} is not signed (installed {why})"
        found.notes.append(note)
        logger.warning("%s", note)


def sign_managed(
    session: Session, settings: Settings, box: Sealer, folder: Path, key: str, version: str
) -> Assessment:
    """A built-in folder's file list, signed with the installation's managed key."""
    files = file_list(folder)
    found = Assessment(files, files_digest(files))
    signature = sign(managed_private_key(session, settings, box), key, version, found.files_digest)
    found.signature = signature.as_json()
    found.status, found.trust = SignatureStatus.VALID, Trust.MANAGED
    return found


def is_signed_by_managed(session: Session, version: PluginVersion) -> bool:
    """Whether ``version`` carries a valid signature by the current managed key."""
    key_id = (version.signature or {}).get("key_id")
    signer = lookup(session, key_id) if isinstance(key_id, str) else None
    return (
        version.files is not None
        and version.signature_status == SignatureStatus.VALID
        and signer is not None
        and signer.managed
        and signer.revoked_at is None
    )


def list_unlisted(session: Session) -> int:
    """Give versions stored before file lists existed (0015) the list of their files as
    they are now; one whose folder cannot be read is ``modified``. Returns how many."""
    versions = session.scalars(select(PluginVersion).where(PluginVersion.files.is_(None))).all()
    for version in versions:
        try:
            files = file_list(plugin_folder(Path(version.path)))
        except OSError as exc:
            logger.error("%s %s: its files cannot be read: %s", version.key, version.version, exc)
            version.files, version.signature_status = {}, SignatureStatus.MODIFIED
            continue
        version.files, version.files_digest = files, files_digest(files)
    session.commit()
    return len(versions)


def mark_modified(
    session: Session,
    version_id: int,
    problem: str,
    *,
    provider_id: int | None = None,
    run_id: int | None = None,
    action_run_id: int | None = None,
) -> None:
    """Record that a start found ``version_id``'s files changed: its status becomes
    ``modified`` and an event says which file. Commits."""
    version = session.get(PluginVersion, version_id)
    if version is None:
        return
    version.signature_status = SignatureStatus.MODIFIED
    version.trust = Trust.UNSIGNED
    session.add(
        Event(
            provider_id=provider_id,
            run_id=run_id,
            action_run_id=action_run_id,
            plugin_key=version.key,
            type="plugin.modified",
            severity="error",
            message=problem,
            data={"version": version.version, "sha256": version.sha256},
        )
    )
    session.commit()
    logger.error("%s %s: %s", version.key, version.version, problem)
