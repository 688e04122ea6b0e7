"""Plugin archives: unpack an upload safely, find its root, pack a plugin folder.

An upload is a tar.gz (``tar czf plugin.tar.gz .`` as seed 000 makes it), a
plain tar or a zip, told apart by its first bytes, never by a file name. What
it holds is checked member by member before anything is written: no absolute
paths, no ``..``, no links, no device files, at most ``max_members`` members
(``MAX_MEMBERS`` unless the caller says otherwise),
and at most ``max_bytes`` in all, counted both from the sizes the archive
declares and from the bytes actually written (a zip can lie about sizes).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from .errors import InvalidPackage, PackageTooLarge

MAX_MEMBERS = 10_000
MAX_NAME_BYTES = 255
"""The longest file or folder name a file system takes (``NAME_MAX``)."""
MAX_PATH_BYTES = 4096
"""The longest path (``PATH_MAX``), counted below the unpack folder."""
MAX_PATH_DEPTH = 64
"""How many folders deep a member may lie."""
PACK_EXCLUDES = frozenset({"__pycache__", ".git", "install.sh"})
_CHUNK = 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"
_TARBALL_SUFFIXES = (".tar.gz", ".tgz")
# What a damaged compressed stream raises while it is read.
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile)


def sha256_of(data: bytes) -> str:
    """Return the hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def extract(data: bytes, dest: Path, *, max_bytes: int, max_members: int = MAX_MEMBERS) -> None:
    """Unpack an uploaded archive into ``dest``, refusing anything unsafe.

    ``dest`` must be missing or empty. ``__pycache__`` folders and ``*.pyc``
    files are skipped. Raises ``PackageTooLarge`` when the upload or its
    unpacked content exceeds ``max_bytes``, ``InvalidPackage`` (naming the
    member) for anything else, among them more than ``max_members`` members;
    on either, ``dest`` is left empty.
    """
    if len(data) > max_bytes:
        raise PackageTooLarge(f"the upload is {len(data)} bytes; the limit is {max_bytes}")
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _unpack(data, _Writer(dest, max_bytes), max_members)
    except BaseException:
        _empty(dest)
        raise


def extract_file(path: Path, dest: Path, *, max_bytes: int, max_members: int = MAX_MEMBERS) -> None:
    """:func:`extract` for a tar or tar.gz on disk, read as a stream: an air-gapped
    bundle holds wheels, more than memory should hold at once. The same checks apply."""
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("rb") as source:
            head = source.read(512)
            source.seek(0)
            if not (head.startswith(_GZIP_MAGIC) or head[257:262] == b"ustar"):
                raise InvalidPackage("not a tar or tar.gz archive")
            mode: Literal["r|gz", "r|"] = "r|gz" if head.startswith(_GZIP_MAGIC) else "r|"
            try:
                _unpack_tar_stream(source, mode, _Writer(dest, max_bytes), max_members)
            except _READ_ERRORS as exc:
                raise InvalidPackage(f"a damaged tar archive: {exc}") from None
    except BaseException:
        _empty(dest)
        raise


def find_root(dest: Path, *, require_provider: bool = True) -> Path:
    """Return the plugin root of an unpacked archive: the folder holding ``manifest.yml``.

    That is ``dest`` itself, or its single top-level folder when the archive
    wrapped everything in one (``vcenter/manifest.yml``). With
    ``require_provider`` the root must also hold ``provider.py``; pass False for
    plugins whose manifest names a ``runtime.command`` instead.
    """
    root = dest
    if not (dest / "manifest.yml").is_file():
        entries = [p for p in dest.iterdir() if not _is_clutter(p.name)]
        if len(entries) != 1 or not (entries[0] / "manifest.yml").is_file():
            raise InvalidPackage("manifest.yml is missing at the top of the archive")
        root = entries[0]
    if require_provider and not (root / "provider.py").is_file():
        raise InvalidPackage("provider.py is missing")
    return root


def archive_name(vendor: str, provider_type: str, version: str) -> str:
    """The file name ``estate plugin package`` gives a plugin's archive."""
    return f"{vendor}-{provider_type}-{version}.tar.gz"


def pack(folder: Path, *, exclude: Iterable[Path] = ()) -> bytes:
    """Return a deterministic tar.gz of a plugin folder, as an upload expects it.

    Leaves out ``__pycache__``, ``*.pyc``, ``.git``, ``install.sh``, the paths in
    ``exclude`` (the archive being written) and every tarball at the top of the
    folder: those are archives of the folder itself, made by an earlier package
    run or by ``tar czf plugin.tar.gz .``; packing one would nest each archive in
    the next (a plugin's own tarballs belong in a subfolder, as ``wheels/``). Members
    are sorted, with zero times and owners, so the same folder always gives
    the same bytes (and sha256). A symlink in the folder raises ``InvalidPackage``.
    """
    if not folder.is_dir():
        raise InvalidPackage(f"{folder} is not a folder")
    # Paths as _walk yields them (under ``folder`` as given): compared without a syscall.
    root = folder.resolve()
    skipped = {p for p in folder.iterdir() if p.name.endswith(_TARBALL_SUFFIXES)}
    for path in exclude:
        target = path.resolve()
        if target.is_relative_to(root):
            skipped.add(folder / target.relative_to(root))
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _walk(folder, skipped):
            _add(tar, path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class _Writer:
    """Writes checked members under a root and counts every byte written."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.declared = 0
        self.written = 0

    def declare(self, name: str, size: int) -> None:
        self.declared += size
        if self.declared > self.max_bytes:
            raise PackageTooLarge(
                f"archive member {name!r}: the archive unpacks to more than {self.max_bytes} bytes"
            )

    def directory(self, name: str, parts: tuple[str, ...]) -> None:
        try:
            self.root.joinpath(*parts).mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidPackage(
                f"archive member {name!r}: conflicts with another member"
            ) from None

    def file(self, name: str, parts: tuple[str, ...], source: IO[bytes], mode: int) -> None:
        target = self.root.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as out:
                while chunk := source.read(_CHUNK):
                    self.written += len(chunk)
                    if self.written > self.max_bytes:
                        raise PackageTooLarge(
                            f"archive member {name!r}: the archive unpacks to more than "
                            f"{self.max_bytes} bytes"
                        )
                    out.write(chunk)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise InvalidPackage(
                f"archive member {name!r}: conflicts with another member"
            ) from None
        target.chmod(0o755 if mode & 0o111 else 0o644)


def _unpack(data: bytes, writer: _Writer, max_members: int) -> None:
    if data.startswith(_ZIP_MAGIC):
        opener: Callable[[bytes, _Writer, int], None] = _unpack_zip
    elif data.startswith(_GZIP_MAGIC) or data[257:262] == b"ustar":
        opener = _unpack_tar
    else:
        raise InvalidPackage("not a tar.gz or zip archive")
    try:
        opener(data, writer, max_members)
    except _READ_ERRORS as exc:
        raise InvalidPackage(f"not a tar.gz or zip archive, or a damaged one: {exc}") from None


def _unpack_tar(data: bytes, writer: _Writer, max_members: int) -> None:
    mode: Literal["r|gz", "r|"] = "r|gz" if data.startswith(_GZIP_MAGIC) else "r|"
    _unpack_tar_stream(io.BytesIO(data), mode, writer, max_members)


def _unpack_tar_stream(
    stream: IO[bytes], mode: Literal["r|gz", "r|"], writer: _Writer, max_members: int
) -> None:
    # Stream mode reads each member once, in order, and never seeks back.
    with tarfile.open(fileobj=stream, mode=mode) as tar:
        count = 0
        for member in tar:
            count += 1
            _check_count(count, max_members)
            parts = _safe_parts(member.name)
            _check_tar_type(member)
            writer.declare(member.name, member.size)
            if parts is None or _is_skipped(parts):
                continue
            if member.isdir():
                writer.directory(member.name, parts)
                continue
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - regular files always have data
                raise InvalidPackage(f"archive member {member.name!r}: cannot be read")
            writer.file(member.name, parts, source, member.mode)


def _unpack_zip(data: bytes, writer: _Writer, max_members: int) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        _check_count(len(infos), max_members)
        planned: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        for info in infos:
            parts = _safe_parts(info.filename)
            _check_zip_type(info)
            writer.declare(info.filename, info.file_size)
            if parts is not None and not _is_skipped(parts):
                planned.append((info, parts))
        for info, parts in planned:
            if info.is_dir():
                writer.directory(info.filename, parts)
                continue
            try:
                source = archive.open(info)
            except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown method
                raise InvalidPackage(f"archive member {info.filename!r}: {exc}") from None
            with source:
                writer.file(info.filename, parts, source, info.external_attr >> 16)


def _check_count(count: int, max_members: int) -> None:
    if count > max_members:
        raise InvalidPackage(f"the archive has too many members (more than {max_members})")


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """Return the member's path parts below the root, or None for the root itself."""
    if "\\" in name or "\x00" in name:
        raise InvalidPackage(f"archive member {name!r}: backslash or NUL in the path")
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise InvalidPackage(f"archive member {name!r}: absolute paths are not allowed")
    if ".." in path.parts:
        raise InvalidPackage(f"archive member {_shown(name)}: '..' is not allowed in a path")
    _check_length(name, path.parts)
    return path.parts or None


def _check_length(name: str, parts: tuple[str, ...]) -> None:
    """Refuse a path the file system would refuse (``ENAMETOOLONG``) before writing it."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidPackage(
            f"archive member {_shown(name)}: path of {len(encoded)} bytes, over the "
            f"{MAX_PATH_BYTES}-byte limit"
        )
    if len(parts) > MAX_PATH_DEPTH:
        raise InvalidPackage(
            f"archive member {_shown(name)}: {len(parts)} levels deep, over the "
            f"limit of {MAX_PATH_DEPTH}"
        )
    for part in parts:
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > MAX_NAME_BYTES:
            raise InvalidPackage(
                f"archive member {_shown(name)}: a name of {size} bytes, over the "
                f"{MAX_NAME_BYTES}-byte limit"
            )


def _shown(name: str, limit: int = 200) -> str:
    """The member's name for a message, shortened in the middle when it is very long."""
    if len(name) <= limit:
        return repr(name)
    return repr(f"{name[: limit // 2]}…{name[-limit // 2 :]}")


def _check_tar_type(member: tarfile.TarInfo) -> None:
    if member.issym() or member.islnk():
        raise InvalidPackage(f"archive member {member.name!r}: links are not allowed")
    if member.isdev():
        raise InvalidPackage(f"archive member {member.name!r}: device files are not allowed")
    if not (member.isfile() or member.isdir()):
        raise InvalidPackage(f"archive member {member.name!r}: unsupported member type")


def _check_zip_type(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidPackage(f"archive member {info.filename!r}: links are not allowed")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise InvalidPackage(f"archive member {info.filename!r}: device files are not allowed")


def _is_skipped(parts: tuple[str, ...]) -> bool:
    return "__pycache__" in parts or parts[-1].endswith(".pyc")


def _is_clutter(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _empty(dest: Path) -> None:
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _walk(folder: Path, skipped: set[Path]) -> Iterator[Path]:
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name in PACK_EXCLUDES or path.suffix == ".pyc" or path in skipped:
            continue
        if path.is_symlink():
            raise InvalidPackage(f"{path}: links are not allowed in a plugin folder")
        yield path
        if path.is_dir():
            yield from _walk(path, skipped)


def _add(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.size = path.stat().st_size
    info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
    with path.open("rb") as source:
        tar.addfile(info, source)
