"""Install a plugin package: check, store immutably, prepare its environment, define, record.

The package's files are listed and its signature checked against the keyring before
anything is prepared (``integrity.assess``, ``integrity.admit``). Nothing is half-installed: the package is unpacked and prepared in a staging folder
inside the plugins directory, renamed into place in one step, and recorded in the
database last; any failure removes the staging folder and leaves the registry as it was.
"""

from __future__ import annotations

import enum
import json
import logging
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory_providers.profiles import missing_actions

from .. import taxonomy
from ..config import Settings
from ..db.models import PluginVersion
from ..db.states import VersionSource, VersionState
from ..runtime.confinement import Launch, confinement_of, launch
from ..runtime.environments import (
    PLUGIN_SUBDIR,
    PluginEnvironment,
    environment_at,
    plugin_folder,
    prepare_environment,
)
from ..runtime.errors import PluginEnvironmentError, PluginStartError
from .archive import extract, find_root, sha256_of
from .errors import InstallFailed, InvalidPackage, PackageTooLarge, PluginExists
from .integrity import Assessment, Policy, admit, assess
from .manifest import Manifest, parse_manifest
from .signing import read_signature, signature_from, write_signature

logger = logging.getLogger(__name__)

STORE_LOCK = threading.Lock()
"""Held while a version folder is moved into place and recorded, and while unreferenced
folders are swept, so neither sees the other half done (one service process uploads)."""
INCOMING = ".incoming"
KEPT_ARCHIVE = "package.tar.gz"
"""The uploaded archive as it came, kept beside the version's ``plugin/`` folder (outside
its file list): the exact bytes, of the version's sha256, that the repository index serves."""
STALE_STAGING_SECONDS = 3600.0
"""A staging folder this old belongs to no upload still running (uv is cut off at 600 s)."""


@dataclass(frozen=True)
class Defined:
    """What the plugin said about itself when asked to ``define``."""

    class_path: str
    metadata: dict[str, Any]

    @property
    def definition(self) -> dict[str, Any] | None:
        """What the version records of it (``PluginVersion.definition``): its declared
        actions and the profiles they implement; None when it was not defined."""
        if not self.class_path:
            return None
        actions = [a for a in self.metadata.get("actions") or [] if isinstance(a, dict)]
        profiles = [p for p in self.metadata.get("profiles") or [] if isinstance(p, str)]
        return {"actions": actions, "profiles": profiles}


class Outcome(enum.StrEnum):
    """What an upload did: installed a new version, replaced a failed one, or found
    the very same bytes installed already (and did nothing)."""

    INSTALLED = "installed"
    REPLACED = "replaced"
    EXISTING = "existing"


def install_archive(
    session: Session,
    settings: Settings,
    data: bytes,
    *,
    force: bool = False,
    wait: bool = True,
    source: VersionSource = VersionSource.LOCAL,
    repository: str | None = None,
    signature: dict[str, Any] | None = None,
    expected: tuple[str, str] | None = None,
    unsigned: Policy | None = None,
) -> tuple[PluginVersion, Outcome]:
    """Install an uploaded archive as a new stored version and commit it.

    With ``wait`` the version's environment is prepared and the plugin defined before
    anything is stored, and any failure stores nothing. Without it the version is stored
    ``preparing`` right after the archive and manifest checks; the job
    ``estate.jobs.prepare.prepare_version`` finishes it.

    A stored ``(key, version)`` is immutable: the same bytes again answer the stored
    version (``Outcome.EXISTING``), other bytes are refused (``PluginExists``). Only a
    version that failed to prepare, which never ran, is replaced, with ``force``.

    ``source`` decides the unsigned policy (``integrity.unsigned_policy``) unless
    ``unsigned`` says (``bundle import --allow-unsigned``); a ``remote``
    install names its ``repository``. A remote or bundle install may bring the index's
    detached ``signature``, used when the archive has no ``SIGNATURE`` of its own (a
    built-in's), and the ``expected`` ``(key, version)`` its index offered: an archive
    holding another is refused.
    """
    if len(data) > settings.max_upload_bytes:
        raise PackageTooLarge(
            f"upload is {len(data)} bytes; the limit is {settings.max_upload_bytes} bytes"
        )
    sha = sha256_of(data)
    incoming = settings.plugins_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=incoming))
    try:
        root, manifest = _unpack(data, stage / "unpacked", settings)
        if expected is not None and (manifest.key, manifest.version) != expected:
            raise InvalidPackage(
                f"the archive holds {manifest.key} {manifest.version}, not the "
                f"{expected[0]} {expected[1]} its index offers; nothing installed"
            )
        existing = _installed(session, manifest, sha, force=force)
        if existing is not None and existing.state != VersionState.FAILED:
            return existing, Outcome.EXISTING
        if signature is not None and read_signature(root) is None:
            write_signature(root, signature_from(signature, "the index's signature"))
        found = assess(session, root, manifest.key, manifest.version)
        what = f"{manifest.key} {manifest.version}"
        admit(found, settings, source, what, unsigned=unsigned)
        version_dir = stage / "version"
        version_dir.mkdir()
        root.rename(version_dir / PLUGIN_SUBDIR)
        (version_dir / KEPT_ARCHIVE).write_bytes(data)
        defined, install_log, state = _prepared(version_dir, manifest, settings, wait=wait)
        with STORE_LOCK:
            record = _store(
                session, settings, version_dir, manifest, defined, sha, existing, found,
                "\n".join([*found.notes, install_log]).strip(), state, source, repository,
            )  # fmt: skip
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return record, Outcome.INSTALLED if existing is None else Outcome.REPLACED


def _unpack(data: bytes, unpacked: Path, settings: Settings) -> tuple[Path, Manifest]:
    """Extract the archive into ``unpacked``; returns the plugin's folder and manifest."""
    extract(data, unpacked, max_bytes=settings.max_upload_bytes)
    # The manifest says whether provider.py is needed: not when it names a command.
    root = find_root(unpacked, require_provider=False)
    manifest = read_manifest(root)
    if manifest.runtime is None:
        find_root(unpacked)
    return root, manifest


def _installed(
    session: Session, manifest: Manifest, sha: str, *, force: bool
) -> PluginVersion | None:
    """The stored version of the upload's key and version: the same bytes, or a failed
    version ``force`` replaces; anything else is refused (versions are immutable)."""
    existing = session.scalar(
        select(PluginVersion).where(
            PluginVersion.key == manifest.key, PluginVersion.version == manifest.version
        )
    )
    if existing is None:
        return None
    what = f"{manifest.key} {manifest.version}"
    if existing.state == VersionState.FAILED and existing.source != VersionSource.MANAGED:
        if force:
            return existing
        raise PluginExists(
            f"{what} is installed but failed to prepare ({existing.error}); it never ran: "
            "upload with ?force=true to replace it, or delete it first"
        )
    if existing.sha256 == sha:
        return existing
    if existing.source == VersionSource.MANAGED:
        raise PluginExists(
            f"{what} is a built-in (managed) version and read-only (sha256 "
            f"{existing.sha256}; this upload's is {sha}); release yours as a new version"
        )
    raise PluginExists(
        f"{what} is installed with sha256 {existing.sha256}; this upload's is {sha}. "
        "Versions are immutable: release the change as a new version"
    )


def _prepared(
    version_dir: Path, manifest: Manifest, settings: Settings, *, wait: bool
) -> tuple[Defined, str, VersionState]:
    """``(defined, install log, state)``: prepared now, or left to the prepare job."""
    if not wait:
        return Defined(class_path="", metadata={}), "", VersionState.PREPARING
    defined, install_log = prepare(version_dir, manifest, settings)
    return defined, install_log, VersionState.READY


def prepare(version_dir: Path, manifest: Manifest, settings: Settings) -> tuple[Defined, str]:
    """Build the version's environment and ask the plugin to define itself in it.

    Returns what it defined and the installer's log; raises ``InvalidPackage``
    (``InstallFailed`` for the requirements, with the log) when either step fails.
    """
    plugin_dir = version_dir / PLUGIN_SUBDIR
    try:
        log = prepare_environment(version_dir, plugin_dir, requirements_name(manifest), settings)
    except PluginEnvironmentError as exc:
        raise InstallFailed(str(exc), exc.log) from None
    environment = environment_at(
        version_dir, manifest.model_dump(mode="json", exclude_none=True), settings
    )
    return define(environment, manifest, settings), log


def _store(
    session: Session,
    settings: Settings,
    version_dir: Path,
    manifest: Manifest,
    defined: Defined,
    sha: str,
    existing: PluginVersion | None,
    found: Assessment,
    install_log: str,
    state: str = VersionState.READY,
    source: VersionSource = VersionSource.LOCAL,
    repository: str | None = None,
) -> PluginVersion:
    """Move the prepared version into place and record it; undo the move if recording fails.

    Callers hold ``STORE_LOCK``, so a sweep of unreferenced folders never sees the
    folder between the move and the commit.
    """
    final = _new_version_path(settings, manifest, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    version_dir.rename(final)
    try:
        if existing is not None:
            session.delete(existing)
            session.flush()
        record = _record(manifest, defined, sha, final, source=source, log=install_log)
        record.state, record.repository = state, repository
        found.apply(record)
        session.add(record)
        session.commit()
    except Exception:  # whatever failed, the folder must not outlive the missing record
        session.rollback()
        shutil.rmtree(final, ignore_errors=True)
        raise
    return record


def _new_version_path(settings: Settings, manifest: Manifest, sha: str) -> Path:
    """A folder no stored version uses yet.

    A forced re-upload over a failed version must not rewrite the folder of the version it
    replaces: a job may be running from it, and if recording the new version fails the
    old record still points at it. The old folder goes at the next ``refresh``.
    """
    parent = settings.plugins_dir / manifest.vendor / manifest.provider_type
    name = f"{manifest.version}-{sha[:12]}"
    final, attempt = parent / name, 1
    while final.exists():
        attempt += 1
        final = parent / f"{name}.{attempt}"
    return final


def requirements_name(manifest: Manifest) -> str:
    """The requirements file the manifest names, ``requirements.txt`` by default."""
    if manifest.dependencies is not None and manifest.dependencies.python:
        return manifest.dependencies.python
    return "requirements.txt"


def read_manifest(root: Path) -> Manifest:
    """The parsed ``manifest.yml`` of the plugin folder ``root``."""
    return parse_manifest((root / "manifest.yml").read_bytes())


def _record(
    manifest: Manifest, defined: Defined, sha: str, path: Path, *, source: str, log: str
) -> PluginVersion:
    return PluginVersion(
        key=manifest.key,
        vendor=manifest.vendor,
        provider_type=manifest.provider_type,
        version=manifest.version,
        sha256=sha,
        class_path=defined.class_path,
        manifest=manifest.model_dump(mode="json", exclude_none=True),
        source=source,
        state=VersionState.READY,
        path=str(path),
        install_log=log,
        definition=defined.definition,
    )


def define_recorded(session: Session, settings: Settings) -> int:
    """Define again the ready versions recorded before definitions were kept (0011).

    Their actions and profiles are what the catalog shows; a version that cannot be
    defined now keeps serving as before, and the catalog says its actions are unknown.
    Returns how many were defined.
    """
    done = 0
    versions = session.scalars(
        select(PluginVersion).where(
            PluginVersion.state == VersionState.READY, PluginVersion.definition.is_(None)
        )
    ).all()
    for version in versions:
        try:
            manifest = read_manifest(plugin_folder(Path(version.path)))
            environment = environment_at(Path(version.path), version.manifest, settings)
            version.definition = define(environment, manifest, settings).definition
        except (InvalidPackage, OSError) as exc:
            logger.warning("%s %s: cannot define it again: %s", version.key, version.version, exc)
            continue
        session.commit()
        done += 1
    return done


def define(environment: PluginEnvironment, manifest: Manifest, settings: Settings) -> Defined:
    """Ask the plugin to describe itself and pick the class the manifest names.

    A manifest's ``runtime.command`` decides how the plugin is run, whatever
    ``environment`` says; a command that cannot be found is refused by name.
    """
    if manifest.runtime is not None:
        environment = replace(environment, command=tuple(manifest.runtime.command))
    # Confined as every plugin process is, whoever built the environment.
    environment = replace(environment, confinement=confinement_of(settings))
    source = _source(environment)
    try:
        started = launch(environment, "define")
    except PluginStartError as exc:
        raise InvalidPackage(str(exc)) from None
    with started:
        done = _run_define(started, source, settings)
    answer = _define_answer(done.stdout)
    if answer is None:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        reason = tail or f"it exited with code {done.returncode} without describing itself"
        reason += started.limit_note(done.returncode, tail)
        raise InvalidPackage(f"{source}: the plugin could not be loaded: {reason}")
    if not answer.get("ok"):
        raise InvalidPackage(f"{source}: {answer.get('error')}")
    return _choose(answer.get("providers") or [], manifest, source)


def _run_define(
    started: Launch, source: str, settings: Settings
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            started.argv,
            capture_output=True,
            text=True,
            timeout=settings.start_timeout,
            env=started.env,
            cwd=started.cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        hint = " (does importing it block?)" if source == "provider.py" else ""
        raise InvalidPackage(
            f"{source}: the plugin did not describe itself within {settings.start_timeout:g}s"
            + hint
        ) from None
    except OSError as exc:  # found, but not runnable (no execute permission, bad interpreter)
        raise InvalidPackage(f"{source}: cannot run {started.argv[0]!r}: {exc.strerror}") from None


def _source(environment: PluginEnvironment) -> str:
    """What problems of ``define`` are reported against: provider.py or the command."""
    if environment.command is None:
        return "provider.py"
    return f"runtime.command {list(environment.command)}"


def _define_answer(stdout: str) -> dict[str, Any] | None:
    """The JSON object ``define`` prints, whatever the plugin printed around it.

    Plugin code runs before the answer is printed and may have written to stdout
    without a newline, so the answer is looked for from its ``{"ok"`` on, last line first.
    """
    for line in reversed(stdout.splitlines()):
        start = line.find('{"ok"')
        if start < 0:
            continue
        try:
            answer = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(answer, dict):
            return answer
    return None


def _check_profiles(manifest: Manifest, meta: dict[str, Any], source: str) -> None:
    """Refuse a manifest claiming a profile whose required actions the plugin lacks."""
    implemented = meta.get("profiles") or []
    declared = [a.get("name") for a in meta.get("actions") or [] if isinstance(a, dict)]
    for index, profile in enumerate(manifest.profiles):
        if profile in implemented:
            continue
        missing = missing_actions(profile, [n for n in declared if isinstance(n, str)])
        raise InvalidPackage(
            f"manifest.yml: profiles[{index}]: {source} does not implement profile "
            f"{profile!r} (missing actions: {', '.join(missing) or 'none declared'})"
        )


def _choose(
    providers: list[dict[str, Any]], manifest: Manifest, source: str = "provider.py"
) -> Defined:
    providers = [meta for meta in providers if isinstance(meta, dict)]
    for meta in providers:
        if (
            meta.get("vendor") == manifest.vendor
            and meta.get("provider_type") == manifest.provider_type
        ):
            unknown = [
                t for t in meta.get("supported_resource_types") or [] if not taxonomy.is_known(t)
            ]
            if unknown:
                raise InvalidPackage(
                    f"{source}: {meta.get('class_name')}.supported_resource_types: "
                    f"unknown type {unknown[0]!r}"
                )
            class_path = meta.get("class_path")
            if not isinstance(class_path, str) or not class_path:
                raise InvalidPackage(f"{source}: define named no class_path for {manifest.key}")
            _check_profiles(manifest, meta, source)
            return Defined(class_path=class_path, metadata=meta)
    found = ", ".join(f"{m.get('class_name')} ({m.get('key')})" for m in providers) or "none"
    what = "BaseProvider subclass" if source == "provider.py" else "provider"
    raise InvalidPackage(
        f"{source}: no {what} with vendor={manifest.vendor!r} and "
        f"provider_type={manifest.provider_type!r} as manifest.yml declares (found: {found})"
    )
