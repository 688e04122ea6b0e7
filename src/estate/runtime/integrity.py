"""A plugin folder's file list: the sha256 of every file, checked before a process starts.

The list covers the plugin's own files (its code, ``manifest.yml``, requirements files,
bundled ``wheels/``): what the plugin folder holds, relative paths with ``/``. It leaves
out ``SIGNATURE`` at the root (the signature is over the list, so it cannot be in it)
and bytecode (``__pycache__``, ``*.pyc``): the service compiles an upload's files
when it prepares the version, after the list is made (a signature is over the source),
and a built-in's folder in a checkout gains it whenever it is compiled; a rewritten
``.pyc`` is not caught (docs/repository.md says so). The version's virtual environment (``venv/`` beside the plugin
folder, or a shared one) is not covered: it is built here by uv from the requirements
the list does cover, holds thousands of files, and hashing it would cost a second per
start; it is written by the service alone (docs/repository.md).

Every file is hashed at every start, with no cache by ``(size, mtime, inode)``: a file
rewritten with its old size and mtime restored must still be caught, and hashing a
plugin's few small source files costs well under a millisecond
(``bench/upload.py``'s ``verification time per start``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import PluginModified

SIGNATURE_FILE = "SIGNATURE"
"""The signature file at a plugin's root, outside its file list."""

_BYTECODE_FOLDER = "__pycache__"

FileList = dict[str, str]
"""Relative path (``/``-separated) → hex sha256 of the file."""


def file_list(folder: Path) -> FileList:
    """The sha256 of every file under ``folder`` the list covers, sorted by path.

    A symlink counts as a file (its target's content is hashed; a dangling one raises
    ``OSError``), so a link swapped in for a file is caught as a change.
    """
    files: FileList = {}
    for relative in sorted(_covered(folder)):
        files[relative] = file_sha256(folder / relative)
    return files


def _covered(folder: Path) -> list[str]:
    """The covered files' relative paths; ``OSError`` when ``folder`` cannot be read."""
    found = []
    for directory, subdirs, names in os.walk(folder, onerror=_raise):
        subdirs[:] = [d for d in subdirs if d != _BYTECODE_FOLDER]
        base = Path(directory).relative_to(folder)
        for name in names:
            if name.endswith(".pyc"):
                continue
            relative = (base / name).as_posix()
            if relative != SIGNATURE_FILE:
                found.append(relative)
    return found


def _raise(error: OSError) -> None:
    raise error


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256sums(files: Mapping[str, str]) -> str:
    """``files`` (path → hex sha256) in ``sha256sum``'s format: one ``<sha256>  <path>``
    line per file, sorted by path (a file list's canonical form, a bundle's SHA256SUMS)."""
    return "".join(f"{files[path]}  {path}\n" for path in sorted(files))


def files_digest(files: Mapping[str, str]) -> str:
    """The sha256 over ``files`` in their canonical form (:func:`sha256sums`), UTF-8."""
    return hashlib.sha256(sha256sums(files).encode()).hexdigest()


def verify(folder: Path, expected: Mapping[str, str]) -> None:
    """Raise ``PluginModified`` naming the first file of ``folder`` that was changed,
    added or removed since ``expected`` was listed."""
    try:
        present = set(_covered(folder))
    except OSError as exc:
        raise PluginModified(f"plugin folder {folder} cannot be read: {exc}", ".") from None
    for relative in sorted(present | set(expected)):
        if relative not in expected:
            _refuse(folder, relative, "was added")
        if relative not in present:
            _refuse(folder, relative, "was removed")
        try:
            actual = file_sha256(folder / relative)
        except OSError as exc:
            _refuse(folder, relative, f"cannot be read ({exc.strerror})")
        if actual != expected[relative]:
            _refuse(folder, relative, "was changed")


def _refuse(folder: Path, relative: str, what: str) -> None:
    raise PluginModified(
        f"plugin file {relative} {what} since the version was installed "
        f"(in {folder}); refusing to start it",
        relative,
    )
