"""The repository index: what this installation offers other ones, and reading another's.

One document, one schema (``"schema": 1``), three uses: ``GET provider-plugins/index/``
(absolute archive URLs), a static index any file server can host
(:func:`write_static_index`: ``index.json`` and ``archives/``, relative URLs), and an
air-gapped bundle's index. :func:`parse_index` reads any of them and refuses a bad one
naming the field (``plugins[2].versions[0].sha256: …``).

What is offered: every ``ready`` version, whatever its source (``managed``, ``local``,
and ``remote``: a version installed from another repository is offered on, marked by
its ``source``). Each version's ``archive`` is the exact archive :func:`archive_bytes`
serves, and ``sha256``/``size`` are that archive's:

- an upload keeps its original archive (``package.tar.gz`` beside the version's
  ``plugin/`` folder, outside its file list), whose sha256 is the version's;
- a built-in is packed from its folder (``archive.pack``), which is how its sha256 is made;
- an upload stored before archives were kept is packed from its ``plugin/`` folder: that
  archive's sha256 and size are reported, not the version's original sha256.

A signed version's ``signature`` (``{key_id, algorithm, signature, files_digest}``) is
also in the index, so an installer can check it even when the archive carries no
``SIGNATURE`` file (a built-in's signature is by its installation's managed key, kept
in the database, not in its folder).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import PluginVersion
from ..db.states import VersionState
from ..db.storable import describe, unstorable
from ..runtime.environments import plugin_folder
from .archive import pack, sha256_of
from .errors import InvalidIndex
from .install import KEPT_ARCHIVE
from .policy import is_prerelease, semver_key

SCHEMA = 1
INDEX_FILE = "index.json"
ARCHIVES_DIR = "archives"
SIGNATURE_FIELDS = ("key_id", "algorithm", "signature", "files_digest")
PACKED_CACHE_SIZE = 4096
_packed: dict[tuple[int, str, str | None], tuple[str, int]] = {}
_packed_guard = threading.Lock()

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=100)]  # as the columns


class _Model(BaseModel):
    # Fields a later Estate adds to schema 1 are ignored; a changed meaning bumps ``schema``.
    model_config = ConfigDict(extra="ignore", frozen=True)


class IndexSignature(_Model):
    key_id: Text
    algorithm: Literal["ed25519"]
    signature: Text
    files_digest: Sha256


class IndexVersion(_Model):
    version: Short
    sha256: Sha256
    size: int = Field(ge=0, le=2**62)
    created_at: datetime | None = None
    prerelease: bool = False
    yanked: bool = False
    yanked_reason: str | None = None
    requires_estate: Annotated[str, StringConstraints(max_length=200)] | None = None
    protocol_versions: list[int] | None = None
    files_digest: Sha256 | None = None
    signature: IndexSignature | None = None
    source: str | None = None
    archive: Text


class IndexPlugin(_Model):
    key: Annotated[str, StringConstraints(pattern=r"^[^:\s]+:[^:\s]+$", max_length=200)]
    vendor: Short
    provider_type: Short
    name: str = ""
    description: str = ""
    versions: list[IndexVersion]


class Index(_Model):
    schema_: Literal[1] = Field(alias="schema")
    generated_at: datetime | None = None
    plugins: list[IndexPlugin]


def parse_index(data: Any, where: str = INDEX_FILE) -> Index:
    """The index ``data`` (parsed JSON) as a checked ``Index``; ``InvalidIndex`` names the
    first bad field as ``<where>: plugins[2].versions[0].sha256: <why>``."""
    bad = unstorable(data)
    if bad is not None:
        raise InvalidIndex([f"{where}: {describe(*bad)}"])
    try:
        index = Index.model_validate(data)
    except ValidationError as exc:
        raise InvalidIndex([f"{where}: {_problem(e)}" for e in exc.errors()]) from None
    seen: set[str] = set()
    for p, plugin in enumerate(index.plugins):
        if plugin.key != f"{plugin.vendor}:{plugin.provider_type}":
            raise InvalidIndex([f"{where}: plugins[{p}].key: is not vendor:provider_type"])
        if plugin.key in seen:
            raise InvalidIndex([f"{where}: plugins[{p}].key: {plugin.key} is listed twice"])
        seen.add(plugin.key)
        versions = [v.version for v in plugin.versions]
        for v, name in enumerate(versions):
            if name in versions[:v]:
                raise InvalidIndex(
                    [f"{where}: plugins[{p}].versions[{v}].version: {name} is listed twice"]
                )
    return index


def _problem(error: Any) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return f"{path or '(document)'}: {error['msg']}"


def archive_bytes(version: PluginVersion) -> bytes:
    """The exact archive of a stored version, as the index describes it (see the module)."""
    root = Path(version.path)
    kept = root / KEPT_ARCHIVE
    if kept.is_file():
        return kept.read_bytes()
    return pack(plugin_folder(root))


def archive_facts(version: PluginVersion) -> tuple[str, int]:
    """``(sha256, size)`` of :func:`archive_bytes` for ``version``.

    A packed archive's facts are cached in this process per ``(id, path, files_digest)``:
    a stored version's files never change (a changed file is refused at every process
    start), and a version replaced or stored anew has another id, path or file list, so
    the cache needs no other invalidation. Without it, every index request packed every
    built-in (docs/benchmarks.md, ``bench/index.py``)."""
    kept = Path(version.path) / KEPT_ARCHIVE
    if kept.is_file():
        return version.sha256, kept.stat().st_size
    cache_key = (version.id, version.path, version.files_digest)
    if version.files_digest is not None and cache_key in _packed:
        return _packed[cache_key]
    data = archive_bytes(version)
    facts = sha256_of(data), len(data)
    if version.files_digest is not None:
        with _packed_guard:
            if len(_packed) >= PACKED_CACHE_SIZE:
                _packed.pop(next(iter(_packed)))  # the oldest entry
            _packed[cache_key] = facts
    return facts


def offered(session: Session, keys: Iterable[str] | None = None) -> list[PluginVersion]:
    """The ready versions an index offers (of ``keys`` only, when given), by key."""
    query = select(PluginVersion).where(PluginVersion.state == VersionState.READY)
    if keys is not None:
        query = query.where(PluginVersion.key.in_(list(keys)))
    return list(session.scalars(query.order_by(PluginVersion.key)))


def index_document(
    session: Session,
    settings: Settings,
    *,
    archive_url: Callable[[PluginVersion], str],
    keys: Iterable[str] | None = None,
    versions: Iterable[PluginVersion] | None = None,
) -> dict[str, Any]:
    """The index of this installation's ready versions (``keys`` only, when given; exactly
    ``versions``, when given: an air-gapped bundle's chosen versions)."""
    plugins: dict[str, dict[str, Any]] = {}
    for version in versions if versions is not None else offered(session, keys):
        plugin = plugins.setdefault(version.key, _plugin_entry(version))
        plugin["versions"].append(_version_entry(version, archive_url(version)))
    for plugin in plugins.values():
        plugin["versions"].sort(key=lambda v: semver_key(v["version"]), reverse=True)
        latest = plugin.pop("_manifest_of")
        plugin["name"], plugin["description"] = latest
    return {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(),
        "plugins": list(plugins.values()),
    }


def _plugin_entry(version: PluginVersion) -> dict[str, Any]:
    manifest = version.manifest or {}
    return {
        "key": version.key,
        "vendor": version.vendor,
        "provider_type": version.provider_type,
        "versions": [],
        "_manifest_of": (
            str(manifest.get("display_name") or manifest.get("name") or ""),
            str(manifest.get("description") or ""),
        ),
    }


def _version_entry(version: PluginVersion, url: str) -> dict[str, Any]:
    manifest = version.manifest or {}
    sha, size = archive_facts(version)
    signature = version.signature or None
    return {
        "version": version.version,
        "sha256": sha,
        "size": size,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "prerelease": is_prerelease(version.version),
        "yanked": version.yanked,
        "yanked_reason": version.yanked_reason,
        "requires_estate": manifest.get("requires_estate"),
        "protocol_versions": manifest.get("protocol_versions"),
        "files_digest": version.files_digest,
        "signature": {k: signature.get(k) for k in SIGNATURE_FIELDS} if signature else None,
        "source": version.source,
        "archive": url,
    }


def archive_file_name(key: str, version: str) -> str:
    """A static index's archive file: ``vendor-type-1.2.0.tar.gz`` (no colon in it)."""
    return f"{key.replace(':', '-')}-{version}.tar.gz"


def write_static_index(
    session: Session,
    settings: Settings,
    dest: Path,
    keys: Iterable[str] | None = None,
    versions: Iterable[PluginVersion] | None = None,
) -> dict[str, Any]:
    """Write ``dest/index.json`` and ``dest/archives/*.tar.gz`` (relative URLs): a static
    index any file server can host (of ``keys``, or of exactly ``versions``). Returns the
    document written."""
    wanted = list(keys) if keys is not None else None
    versions = list(versions) if versions is not None else offered(session, wanted)
    missing = sorted(set(wanted or ()) - {v.key for v in versions})
    if missing:
        raise InvalidIndex([f"no ready version of {key} to export" for key in missing])
    archives = dest / ARCHIVES_DIR
    archives.mkdir(parents=True, exist_ok=True)
    for version in versions:
        data = archive_bytes(version)
        (archives / archive_file_name(version.key, version.version)).write_bytes(data)

    def relative(version: PluginVersion) -> str:
        return f"{ARCHIVES_DIR}/{archive_file_name(version.key, version.version)}"

    document = index_document(session, settings, archive_url=relative, versions=versions)
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    (dest / INDEX_FILE).write_text(text, encoding="utf-8")
    return document
