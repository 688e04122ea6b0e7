"""The only commands that work without the service: check and pack a plugin folder.

Every import of the service's internals the CLI needs (outside ``serve``) is here,
inside the functions, so moving those modules touches this file alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal


class LocalError(Exception):
    """A plugin folder that does not pass; ``problems`` lists what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Checked:
    key: str
    version: str
    class_path: str
    types: list[str]


def validate(folder: Path) -> Checked:
    """Check a plugin folder as an upload would be checked, including ``define``."""
    from ..config import Settings
    from ..registry.archive import find_root
    from ..registry.errors import InvalidPackage
    from ..registry.install import define
    from ..registry.manifest import parse_manifest
    from ..runtime.environments import PluginEnvironment

    try:
        root = find_root(folder.resolve(), require_provider=False)
        manifest = parse_manifest((root / "manifest.yml").read_bytes())
        if manifest.runtime is None:
            find_root(root)  # a Python plugin needs its provider.py
        defined = define(PluginEnvironment(root), manifest, Settings())
    except InvalidPackage as exc:
        raise LocalError(exc.problems) from None
    types = list(manifest.supported_resource_types)
    return Checked(manifest.key, manifest.version, defined.class_path, types)


def archive_name(folder: Path) -> str:
    """The default file name of a folder's archive, from its manifest."""
    from ..registry.archive import archive_name as name_of
    from ..registry.errors import InvalidPackage
    from ..registry.manifest import parse_manifest

    try:
        manifest = parse_manifest((folder / "manifest.yml").read_bytes())
    except InvalidPackage as exc:
        raise LocalError(exc.problems) from None
    except OSError as exc:
        raise LocalError([f"{folder / 'manifest.yml'}: {exc.strerror}"]) from None
    return name_of(manifest.vendor, manifest.provider_type, manifest.version)


def pack(path: Path, *, target: Path | None = None) -> bytes:
    """A folder as the tar.gz an upload takes (leaving out ``target``), or an archive's bytes."""
    from ..registry.archive import pack as pack_folder
    from ..registry.errors import InvalidPackage

    try:
        if path.is_dir():
            return pack_folder(path, exclude=[target] if target else [])
        return path.read_bytes()
    except InvalidPackage as exc:
        raise LocalError(exc.problems) from None
    except OSError as exc:
        raise LocalError([f"{path}: {exc.strerror}"]) from None


def plugin_folder(plugin: str) -> Path:
    """A plugin folder: ``plugin`` itself, or the built-in plugin whose key it is."""
    from ..config import Settings
    from ..registry.errors import InvalidPackage
    from ..registry.managed import plugin_folders
    from ..registry.manifest import parse_manifest

    path = Path(plugin)
    if path.is_dir():
        return path
    root = Settings().managed_plugins_dir
    keys = []
    for folder in plugin_folders(root):
        try:
            key = parse_manifest((folder / "manifest.yml").read_bytes()).key
        except InvalidPackage:
            continue
        if key == plugin:
            return folder
        keys.append(key)
    raise LocalError(
        [f"{plugin}: neither a plugin folder nor a built-in plugin's key ({', '.join(keys)})"]
    )


@dataclass
class Keys:
    key_id: str
    private: Path
    public: Path
    public_pem: Path


def keygen(out: Path, name: str) -> Keys:
    """A new Ed25519 key pair in ``out``: ``<name>.pem`` (private, mode 0600),
    ``<name>.pub`` (base64 of the raw public key) and ``<name>.pub.pem``."""
    import os

    from ..registry import signing

    private = signing.new_private_key()
    out.mkdir(parents=True, exist_ok=True)
    keys = Keys(
        signing.key_id_of(private.public_key()),
        out / f"{name}.pem",
        out / f"{name}.pub",
        out / f"{name}.pub.pem",
    )
    if keys.private.exists():
        raise LocalError([f"{keys.private}: exists already; keygen never overwrites a key"])
    fd = os.open(keys.private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signing.private_pem(private))
    keys.public.write_text(signing.public_text(private.public_key()) + "\n")
    keys.public_pem.write_bytes(signing.public_pem(private.public_key()))
    return keys


def sign(path: Path, key: Path, output: Path | None) -> tuple[str, Path]:
    """Sign a plugin folder (``SIGNATURE`` written in it) or archive (a signed copy
    written); returns the key id and what was written."""
    from ..registry.errors import InvalidSigningKey, RegistryError
    from ..registry.signed_package import sign_package
    from ..registry.signing import load_private

    try:
        private = load_private(key.read_bytes(), str(key))
        signature, written = sign_package(path, private, output)
    except (InvalidSigningKey, RegistryError) as exc:
        raise LocalError([str(exc)]) from None
    except OSError as exc:
        raise LocalError([f"{exc.filename or path}: {exc.strerror}"]) from None
    return signature.key_id, written


@dataclass
class Verified:
    key: str
    version: str
    status: str
    trust: str
    checks: list[tuple[str, bool, str]]


def verify(path: Path, public_keys: list[str], keyring: list[dict[str, object]]) -> Verified:
    """Check a plugin folder's or archive's files and signature with ``public_keys``
    (PEM or base64 texts) and the service's ``keyring`` (``GET signing-keys/`` items)."""
    from datetime import UTC, datetime

    from ..db.models import SigningKey
    from ..registry.errors import RegistryError
    from ..registry.signed_package import verify_package
    from ..registry.signing import key_id_of, load_public, public_text

    known: dict[str, SigningKey] = {}
    try:
        for text in public_keys:
            public = load_public(text, "--key")
            known[key_id_of(public)] = SigningKey(
                public_key=public_text(public), managed=False, organization_id=None,
                revoked_at=None, revoked_reason="",
            )  # fmt: skip
        for item in keyring:
            revoked = item.get("revoked_at")
            known[str(item["key_id"])] = SigningKey(
                public_key=str(item["public_key"]), managed=bool(item.get("managed")),
                organization_id=item.get("organization"), revoked_reason=item.get("revoked_reason"),
                revoked_at=datetime.now(UTC) if revoked else None,
            )  # fmt: skip
        manifest, found = verify_package(path, known.get)
    except RegistryError as exc:
        raise LocalError([str(exc)]) from None
    except OSError as exc:
        raise LocalError([f"{exc.filename or path}: {exc.strerror}"]) from None
    return Verified(manifest.key, manifest.version, found.status, found.trust, _checks(found))


def _checks(found: object) -> list[tuple[str, bool, str]]:
    from ..registry.integrity import Assessment

    assert isinstance(found, Assessment)
    signature = found.signature or {}
    checks = [("files listed", True, f"{len(found.files)} file(s), digest {found.files_digest}")]
    if not signature:
        return [*checks, ("signature", False, "no SIGNATURE in the plugin's root")]
    same = signature.get("files_digest") == found.files_digest
    checks.append(("files match the signed list", same, "" if same else found.problem))
    if same:
        ok = found.status == "valid"
        checks.append((f"signature by key {signature.get('key_id')}", ok, found.problem))
    return checks


@dataclass
class Exported:
    plugins: int
    versions: int
    index: Path


def export_index(dest: Path, keys: list[str]) -> Exported:
    """Write a static index of the data directory's ready versions (``ESTATE_DATA_DIR``,
    ``ESTATE_DATABASE_URL``) into ``dest``: ``index.json`` and ``archives/``."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..config import Settings
    from ..context import sqlite_file
    from ..db.engine import make_engine, make_sessionmaker
    from ..registry.errors import RegistryError
    from ..registry.index import INDEX_FILE, write_static_index

    settings = Settings()
    database = sqlite_file(settings.database)
    if database is not None and not database.is_file():
        raise LocalError(
            [f"{database}: no database here; set ESTATE_DATA_DIR to the service's data directory"]
        )
    engine = make_engine(settings.database)
    try:
        with make_sessionmaker(engine)() as session:
            document = write_static_index(session, settings, dest, keys or None)
    except RegistryError as exc:
        raise LocalError([str(exc)]) from None
    except SQLAlchemyError as exc:
        raise LocalError([f"cannot read the database: {exc.__class__.__name__}: {exc}"]) from None
    except OSError as exc:
        raise LocalError([f"{exc.filename or dest}: {exc.strerror}"]) from None
    finally:
        engine.dispose()
    plugins = document["plugins"]
    versions = sum(len(p["versions"]) for p in plugins)
    return Exported(len(plugins), versions, dest / INDEX_FILE)


@dataclass
class BundleImport:
    sha256: str
    signed_by: str | None
    keys: list[str]
    untrusted_keys: int
    new_wheels: int
    results: list[Any]  # registry.bundles.Imported


def export_bundle(
    wanted: list[str],
    target: Path,
    *,
    find_links: list[str],
    index_url: str | None,
    key: Path | None,
    step: Callable[[str], None],
) -> Any:
    """Write the bundle of the data directory's versions ``wanted`` (``KEY[@RANGE]``) to
    ``target``, signed with the private ``key`` when given; returns
    ``registry.bundles.Exported``."""
    from ..registry import bundle_export as bundles
    from ..registry.errors import RegistryError
    from ..registry.signing import load_private

    settings = _data_settings()
    try:
        signer = load_private(key.read_bytes(), str(key)) if key is not None else None
        parsed = [bundles.parse_wanted(text) for text in wanted]
        with _data_session(settings, migrate=False) as session:
            chosen = bundles.choose(session, parsed)
            return bundles.export(
                session, settings, chosen, target, find_links=find_links, index_url=index_url,
                signer=signer, step=step,
            )  # fmt: skip
    except RegistryError as exc:
        raise LocalError(_problems(exc)) from None
    except OSError as exc:
        raise LocalError([f"{exc.filename or target}: {exc.strerror}"]) from None


def import_bundle(
    path: Path, *, trust_keys: bool, allow_unsigned: bool, step: Callable[[str], None]
) -> BundleImport:
    """Check and install the bundle ``path`` into the data directory (migrated first):
    nothing is installed unless every file matches its ``SHA256SUMS``."""
    import getpass
    import shutil
    import tempfile

    from ..registry import bundles
    from ..registry.errors import RegistryError
    from ..registry.install import INCOMING
    from ..runtime.integrity import file_sha256

    settings = _data_settings()
    if not path.is_file():
        raise LocalError([f"{path}: no such file"])
    incoming = settings.plugins_dir / INCOMING
    try:
        with _data_session(settings, migrate=True) as session:
            incoming.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=".bundle-", dir=incoming))
            try:
                step(f"checking {path.name} against its SHA256SUMS")
                index = bundles.unpack(path, stage)
                signed_by = bundles.check_sums_signature(session, stage, trust_bundled=trust_keys)
                new_wheels = bundles.copy_wheels(stage, settings)
                who = f"{getpass.getuser()} (estate plugin bundle import)"
                keys = bundles.trust_keys(session, stage, created_by=who) if trust_keys else []
                bundled = len(list((stage / bundles.KEYS_DIR).glob("*.pub")))
                unsigned: Literal["warn"] | None = "warn" if allow_unsigned else None
                results = bundles.install_all(
                    session, settings, stage, index, unsigned=unsigned, step=step
                )
                _audit_import(session, path, results, who)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
    except RegistryError as exc:
        raise LocalError(_problems(exc)) from None
    except OSError as exc:
        raise LocalError([f"{exc.filename or path}: {exc.strerror}"]) from None
    sha256 = file_sha256(path)
    untrusted = 0 if trust_keys else bundled
    return BundleImport(sha256, signed_by, keys, untrusted, new_wheels, results)


def _audit_import(session: Any, path: Path, results: list[Any], who: str) -> None:
    """One audit entry per version, as an upload through the API would write."""
    from ..auth.audit import record

    statuses = {"installed": 201, "existing": 200, "refused": 400}
    for result in results:
        detail = f"{result.version} {result.outcome} from {path.name}: {result.detail}"
        record(
            session, action="provider-plugins.bundle-import", status=statuses[result.outcome],
            client="local", username=who, object_type="provider-plugins",
            object_id=result.key, detail=detail,
        )  # fmt: skip
    session.commit()


def _problems(exc: Exception) -> list[str]:
    problems = getattr(exc, "problems", None)
    return list(problems) if problems else [str(exc)]


def _data_settings() -> Any:
    """The service's settings (``ESTATE_*``), or ``LocalError`` naming each bad one."""
    from pydantic import ValidationError

    from ..config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise LocalError(
            [
                f"ESTATE_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                for error in exc.errors()
            ]
        ) from None


@contextmanager
def _data_session(settings: Any, *, migrate: bool) -> Iterator[Any]:
    """A session on the data directory's database; ``migrate`` brings its schema up to
    date first (a data directory the service never started gets one)."""
    from sqlalchemy.exc import OperationalError

    from ..context import prepare_data_dir, sqlite_file
    from ..db.engine import make_engine, make_sessionmaker
    from ..db.migrate import upgrade

    database = sqlite_file(settings.database)
    if not migrate and database is not None and not database.is_file():
        raise LocalError(
            [f"{database}: no database here; set ESTATE_DATA_DIR to the service's data directory"]
        )
    if migrate:
        prepare_data_dir(settings)
    engine = make_engine(settings.database)
    try:
        if migrate:
            upgrade(engine)
        with make_sessionmaker(engine)() as session:
            yield session
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise LocalError([f"cannot use the database: {reason}"]) from None
    finally:
        engine.dispose()
