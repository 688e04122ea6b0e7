"""Making an air-gapped bundle: which versions ``KEY[@RANGE]`` arguments name, their
archives and index, a wheel of every requirement, the keys that signed them, the sums
(the layout is ``bundles``')."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion
from ..db.states import SignatureStatus
from ..runtime.environments import has_requirements, plugin_folder
from ..runtime.errors import PluginEnvironmentError
from ..runtime.integrity import file_sha256
from ..runtime.wheels import download
from .bundles import KEYS_DIR, WHEELS_DIR, Step, pack_bundle, sign_sums, write_sums
from .errors import InvalidBundle
from .index import write_static_index
from .install import read_manifest, requirements_name
from .keyring import lookup
from .policy import Policy, PolicyError, parse_policy
from .signing import key_id_of, public_text
from .versions import resolve, versions_of

_KEY = re.compile(r"[^:\s@]+:[^:\s@]+")


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Wanted:
    """One ``KEY[@RANGE]`` argument of ``bundle export``."""

    text: str
    key: str
    policy: Policy


def parse_wanted(text: str) -> Wanted:
    """``vendor:type`` or ``vendor:type@RANGE`` (the policy grammar); ``InvalidBundle``
    naming the argument otherwise."""
    key, at, policy = text.partition("@")
    if not _KEY.fullmatch(key):
        raise InvalidBundle(f"{text!r}: not KEY or KEY@RANGE (a key is vendor:provider_type)")
    if at and not policy.strip():
        raise InvalidBundle(f"{text!r}: nothing after '@' (KEY@1.2.0, KEY@~1.2, KEY@>=1,<2)")
    try:
        return Wanted(text, key, parse_policy(policy if at else None))
    except PolicyError as exc:
        raise InvalidBundle(f"{text!r}: {exc}") from None


def choose(session: Session, wanted: Sequence[Wanted]) -> list[PluginVersion]:
    """The installed version each argument resolves to (as a provider's policy would:
    no range is the latest compatible version, pre-releases only when the range names
    one); ``InvalidBundle`` naming every argument that resolves to none."""
    chosen: dict[int, PluginVersion] = {}
    problems = []
    for item in wanted:
        if not versions_of(session, item.key):
            problems.append(f"{item.text!r}: no version of {item.key} is installed here")
            continue
        resolution = resolve(session, item.key, item.policy)
        found = resolution.version
        if found is None:
            problems.append(f"{item.text!r}: {resolution.reason}")
        elif found.signature_status in (SignatureStatus.INVALID, SignatureStatus.MODIFIED):
            problem = (found.signature or {}).get("problem") or "its files changed"
            problems.append(
                f"{item.text!r}: {found.key} {found.version} is {found.signature_status} "
                f"({problem}); any import would refuse it"
            )
        else:
            chosen[found.id] = found
    if problems:
        raise InvalidBundle(problems)
    return list(chosen.values())


@dataclass
class Exported:
    """What ``export`` wrote."""

    versions: list[tuple[str, str, str]]  # key, version, trust
    wheels: list[str]
    keys: list[str]
    size: int
    sha256: str


def export(
    session: Session,
    settings: Settings,
    chosen: Sequence[PluginVersion],
    target: Path,
    *,
    find_links: Sequence[str] = (),
    index_url: str | None = None,
    signer: Ed25519PrivateKey | None = None,
    step: Step = _quiet,
) -> Exported:
    """Write the bundle of ``chosen`` to ``target`` (a tar, written whole or not at all).

    ``find_links`` and ``index_url`` are where the requirements' wheels come from
    (besides each version's own ``wheels/`` and the wheelhouse); ``signer`` signs
    ``SHA256SUMS`` (its public key goes in ``keys/``). Raises ``InvalidBundle`` naming
    the version whose requirements cannot be had as wheels.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".bundle-", dir=target.parent))
    try:
        step(f"writing the index and {len(chosen)} archive(s)")
        write_static_index(session, settings, stage, versions=chosen)
        wheels = _wheels(settings, chosen, stage / WHEELS_DIR, find_links, index_url, step)
        keys = _keys(session, chosen, stage / KEYS_DIR)
        if signer is not None:
            keys = sorted({*keys, _write_key(stage / KEYS_DIR, signer.public_key())})
        step("writing SHA256SUMS and the bundle")
        write_sums(stage)
        if signer is not None:
            sign_sums(stage, signer)
        partial = target.with_name(f".{target.name}.partial")
        pack_bundle(stage, partial)
        partial.rename(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    versions = [(v.key, v.version, v.trust) for v in chosen]
    return Exported(versions, wheels, keys, target.stat().st_size, file_sha256(target))


def _wheels(
    settings: Settings,
    chosen: Iterable[PluginVersion],
    dest: Path,
    find_links: Sequence[str],
    index_url: str | None,
    step: Step,
) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    for version in chosen:
        folder = plugin_folder(Path(version.path))
        requirements = folder / requirements_name(read_manifest(folder))
        if not has_requirements(requirements):
            continue
        step(f"wheels of {version.key} {version.version}")
        local = [folder / "wheels", settings.resolved_wheelhouse]
        links = [str(p) for p in local if p.is_dir()] + list(find_links)
        what = f"{version.key} {version.version}: {requirements.name}"
        try:
            download(
                requirements, dest, find_links=links, index_url=index_url,
                offline=settings.offline, name=what,
            )  # fmt: skip
        except PluginEnvironmentError as exc:
            raise InvalidBundle(str(exc)) from None
    return sorted(path.name for path in dest.iterdir())


def _keys(session: Session, chosen: Iterable[PluginVersion], dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for version in chosen:
        key_id = (version.signature or {}).get("key_id")
        signer = lookup(session, key_id) if isinstance(key_id, str) else None
        if signer is not None and not (dest / f"{signer.key_id}.pub").exists():
            (dest / f"{signer.key_id}.pub").write_text(signer.public_key + "\n")
            written.append(signer.key_id)
    return written


def _write_key(dest: Path, public: Ed25519PublicKey) -> str:
    key_id = key_id_of(public)
    (dest / f"{key_id}.pub").write_text(public_text(public) + "\n")
    return key_id
