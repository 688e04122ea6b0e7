"""Air-gapped bundles: chosen plugin versions, their wheels and their signers' keys in one tar.

A bundle is a static repository index (``index.json`` and ``archives/``, written by
``index.write_static_index`` for exactly the chosen versions) plus:

- ``wheels/``: a wheel of every requirement of every version, dependencies included,
  for the exporting host's Python and platform (``runtime.wheels.download``);
- ``keys/<key id>.pub``: the public key of each signature, as ``estate plugin keygen``
  writes it and ``estate signing-key import`` reads it;
- ``SHA256SUMS``: ``<sha256>  <path>`` of every other file (``sha256sum -c SHA256SUMS``
  checks an unpacked bundle);
- ``SHA256SUMS.sig``, when the exporter signs the bundle: an Ed25519 signature over
  ``estate-bundle-v1\0`` and ``SHA256SUMS``. Plugin archives carry signatures of their
  own; this one vouches for the wheels too, which nothing else does.

Importing checks ``SHA256SUMS`` before anything else (a changed, missing or extra file
refuses the whole bundle, naming the file) and its signature when there is one (a bad
one, or one by a key the keyring does not trust, refuses the bundle), reads the index
(``index.parse_index``), copies the wheels into the wheelhouse and installs each archive through
``install.install_archive``: integrity, signatures, the trust policy and immutability
apply as to any upload. Bundled keys are trusted only when the importer asks
(``trust_keys``); unsigned plugins are refused unless the importer allows them.
Making one is ``bundle_export``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.states import VersionSource
from ..runtime.integrity import file_sha256, sha256sums
from .archive import extract_file
from .errors import InvalidBundle, InvalidPackage, RegistryError
from .index import ARCHIVES_DIR, INDEX_FILE, Index, parse_index
from .install import Outcome, install_archive
from .integrity import Policy as UnsignedPolicy
from .keyring import import_key, lookup
from .signing import ALGORITHM, key_id_of, load_public, public_text

SUMS = "SHA256SUMS"
SUMS_SIGNATURE = "SHA256SUMS.sig"
BUNDLE_DOMAIN = b"estate-bundle-v1\0"
WHEELS_DIR = "wheels"
KEYS_DIR = "keys"
MAX_BUNDLE_BYTES = 8 * 1024**3
MAX_BUNDLE_MEMBERS = 100_000
_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")

Step = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def sign_sums(folder: Path, private: Ed25519PrivateKey) -> None:
    """``folder/SHA256SUMS.sig``: ``{key_id, algorithm, signature}`` over the sums."""
    signed = private.sign(BUNDLE_DOMAIN + (folder / SUMS).read_bytes())
    document = {
        "key_id": key_id_of(private.public_key()),
        "algorithm": ALGORITHM,
        "signature": base64.b64encode(signed).decode(),
    }
    (folder / SUMS_SIGNATURE).write_text(json.dumps(document) + "\n", encoding="utf-8")


def check_sums_signature(session: Session, folder: Path, *, trust_bundled: bool) -> str | None:
    """The id of the key that signed the bundle's ``SHA256SUMS``, None when unsigned.

    The key must be in the keyring and not revoked (or, with ``trust_bundled``, among
    the bundle's ``keys/``); else, or when the signature does not verify,
    ``InvalidBundle``."""
    path = folder / SUMS_SIGNATURE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_bytes())
        key_id, algorithm = str(document["key_id"]), document["algorithm"]
        signed = base64.b64decode(str(document["signature"]), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidBundle(f"{SUMS_SIGNATURE}: not a bundle signature ({exc})") from None
    if algorithm != ALGORITHM:
        raise InvalidBundle(f"{SUMS_SIGNATURE}: algorithm {algorithm!r} is not {ALGORITHM}")
    known = lookup(session, key_id)
    bundled = folder / KEYS_DIR / f"{key_id}.pub"
    if known is not None and known.revoked_at is not None:
        raise InvalidBundle(
            f"{SUMS_SIGNATURE}: signed by key {key_id}, revoked: {known.revoked_reason}; "
            "nothing was installed"
        )
    if known is not None:
        public = load_public(known.public_key)
    elif trust_bundled and bundled.is_file():
        public = load_public(bundled.read_text("utf-8", "replace"), f"{KEYS_DIR}/{bundled.name}")
    else:
        raise InvalidBundle(
            f"{SUMS_SIGNATURE}: signed by key {key_id}, which is not in the keyring: import "
            "it (`estate signing-key import`) or pass --trust-keys; nothing was installed"
        )
    try:
        public.verify(signed, BUNDLE_DOMAIN + (folder / SUMS).read_bytes())
    except InvalidSignature:
        raise InvalidBundle(
            f"{SUMS_SIGNATURE}: the signature by key {key_id} does not verify (SHA256SUMS "
            "was changed after the bundle was signed); nothing was installed"
        ) from None
    return key_id


def write_sums(folder: Path) -> None:
    """``folder/SHA256SUMS``: ``<sha256>  <path>`` of every other file, sorted by path."""
    sums = {name: file_sha256(path) for name, path in _files(folder).items()}
    (folder / SUMS).write_text(sha256sums(sums), encoding="utf-8")


def _files(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` but ``SHA256SUMS`` and its signature by its relative
    POSIX path, sorted."""
    found = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and path not in (folder / SUMS, folder / SUMS_SIGNATURE)
    }
    return dict(sorted(found.items()))


def pack_bundle(folder: Path, target: Path) -> None:
    """A plain tar of ``folder``'s files (wheels and archives are compressed already)."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        signature = [(SUMS_SIGNATURE, folder / SUMS_SIGNATURE)]
        firsts = [(SUMS, folder / SUMS), *(signature if signature[0][1].is_file() else [])]
        for name, path in [*firsts, *_files(folder).items()]:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with path.open("rb") as source:
                tar.addfile(info, source)


def unpack(bundle: Path, dest: Path) -> Index:
    """Unpack ``bundle`` into the empty folder ``dest`` and check it: its ``SHA256SUMS``
    first, then its index and archives. ``InvalidBundle`` names every problem."""
    try:
        extract_file(bundle, dest, max_bytes=MAX_BUNDLE_BYTES, max_members=MAX_BUNDLE_MEMBERS)
    except InvalidPackage as exc:
        raise InvalidBundle([f"{bundle.name}: {p}" for p in exc.problems]) from None
    check_sums(dest)
    try:
        data = json.loads((dest / INDEX_FILE).read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidBundle(f"{INDEX_FILE}: cannot be read: {exc}") from None
    index = parse_index(data)
    _check_archives(dest, index)
    return index


def check_sums(folder: Path) -> None:
    """Every file listed with its sha256, none missing, none more; else ``InvalidBundle``."""
    sums = folder / SUMS
    if not sums.is_file():
        raise InvalidBundle(f"{SUMS}: missing: not a bundle (`estate plugin bundle export`)")
    listed: dict[str, str] = {}
    for number, line in enumerate(sums.read_text("utf-8", "replace").splitlines(), 1):
        found = _SUM_LINE.fullmatch(line)
        if found is None:
            raise InvalidBundle(f"{SUMS}: line {number}: not '<sha256>  <file>'")
        listed[found.group(2)] = found.group(1)
    present = _files(folder)
    problems = [f"{name}: listed in {SUMS} but missing" for name in listed if name not in present]
    for name, path in present.items():
        if name not in listed:
            problems.append(f"{name}: not listed in {SUMS} (a file was added)")
        elif file_sha256(path) != listed[name]:
            problems.append(f"{name}: its sha256 is not the one {SUMS} lists (changed or damaged)")
    if problems:
        raise InvalidBundle([*problems, "nothing was installed"])


def _check_archives(folder: Path, index: Index) -> None:
    problems = []
    for plugin in index.plugins:
        for version in plugin.versions:
            where = PurePosixPath(version.archive)
            name = f"{plugin.key} {version.version}: archive {version.archive!r}"
            if where.is_absolute() or ".." in where.parts or where.parts[0] != ARCHIVES_DIR:
                problems.append(f"{name}: not a file under {ARCHIVES_DIR}/")
            elif not (folder / where).is_file():
                problems.append(f"{name}: not in the bundle")
            elif file_sha256(folder / where) != version.sha256:
                problems.append(f"{name}: its sha256 is not the index's {version.sha256}")
    if problems:
        raise InvalidBundle([*problems, "nothing was installed"])


def trust_keys(session: Session, folder: Path, *, created_by: str) -> list[str]:
    """Import the bundle's ``keys/`` into the keyring (those it lacks); returns a line per
    key: imported, already there, or revoked there (a revoked key is never re-admitted)."""
    notes = []
    for path in sorted((folder / KEYS_DIR).glob("*.pub")):
        text = path.read_text("utf-8", "replace")
        key_id = key_id_of(load_public(text, f"{KEYS_DIR}/{path.name}"))
        known = lookup(session, key_id)
        if known is not None:
            state = "revoked here: not trusted" if known.revoked_at else "already trusted"
            notes.append(f"key {key_id}: {state}")
            continue
        name = f"bundle key {key_id[:12]}"
        import_key(
            session, name=name, public_key=public_text(load_public(text)),
            organization_id=None, created_by=created_by,
        )  # fmt: skip
        notes.append(f"key {key_id}: imported and trusted")
    return notes


def copy_wheels(folder: Path, settings: Settings) -> int:
    """Copy the bundle's wheels into the wheelhouse; returns how many were new there.

    A wheel of the same name with other bytes is refused: a wheel's name is its identity
    for an installer, and it would take whichever it found first."""
    house = settings.resolved_wheelhouse
    house.mkdir(parents=True, exist_ok=True)
    clashes = []
    wheels = sorted((folder / WHEELS_DIR).glob("*.whl"))
    for wheel in wheels:
        there = house / wheel.name
        if there.is_file() and file_sha256(there) != file_sha256(wheel):
            clashes.append(f"{WHEELS_DIR}/{wheel.name}: the wheelhouse {house} has other bytes")
    if clashes:
        raise InvalidBundle([*clashes, "nothing was installed"])
    new = 0
    for wheel in wheels:
        if not (house / wheel.name).exists():
            shutil.copyfile(wheel, house / wheel.name)
            new += 1
    return new


@dataclass
class Imported:
    """What importing one version of a bundle did: ``installed``, ``existing`` (the same
    bytes were installed already) or ``refused`` (``detail`` says why)."""

    key: str
    version: str
    outcome: str
    detail: str = ""
    sha256: str = ""


def install_all(
    session: Session,
    settings: Settings,
    folder: Path,
    index: Index,
    *,
    unsigned: UnsignedPolicy | None = None,
    step: Step = _quiet,
) -> list[Imported]:
    """Install every version of the checked bundle in ``folder``, one by one, as uploads
    (source ``bundle``); a refused one leaves the others and the registry as they were.
    As from a remote, the index's signature stands in for an archive without
    ``SIGNATURE`` (a built-in's), and each archive must hold the version the index names."""
    done = []
    for plugin in index.plugins:
        for entry in plugin.versions:
            step(f"{plugin.key} {entry.version}")
            # A staging folder untouched for an hour is swept as an abandoned upload's.
            os.utime(folder)
            data = (folder / entry.archive).read_bytes()
            try:
                record, outcome = install_archive(
                    session, settings, data, source=VersionSource.BUNDLE, unsigned=unsigned,
                    signature=entry.signature.model_dump() if entry.signature else None,
                    expected=(plugin.key, entry.version),
                )  # fmt: skip
            except RegistryError as exc:
                session.rollback()
                done.append(Imported(plugin.key, entry.version, "refused", str(exc)))
                continue
            shown = "existing" if outcome is Outcome.EXISTING else "installed"
            detail = f"signature {record.signature_status}, trust {record.trust}"
            done.append(Imported(record.key, record.version, shown, detail, record.sha256))
    return done
