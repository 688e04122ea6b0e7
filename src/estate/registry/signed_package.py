"""Signing and verifying a plugin folder or archive offline (``estate plugin sign|verify``).

Both work on the files as an upload will store them: a folder is packed as ``estate
plugin upload`` packs it and unpacked again (so what packing leaves out, such as
``.git`` or a tarball at the top, is not in the list), an archive is unpacked. The list
made from that is the one the service makes at upload, so a signature made here
verifies there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..db.models import SigningKey
from ..runtime.integrity import file_list, files_digest
from .archive import extract, find_root, pack
from .integrity import Assessment, assess_with
from .manifest import Manifest, parse_manifest
from .signing import Signature, sign, write_signature

MAX_PACKAGE_BYTES = 512 * 1024 * 1024


@contextmanager
def unpacked(path: Path) -> Iterator[Path]:
    """The plugin root of ``path`` (a folder or an archive) as an upload stores it,
    in a temporary folder removed on exit."""
    data = pack(path) if path.is_dir() else path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="estate-sign-") as work:
        extract(data, Path(work) / "p", max_bytes=MAX_PACKAGE_BYTES)
        yield find_root(Path(work) / "p", require_provider=False)


def manifest_of(root: Path) -> Manifest:
    return parse_manifest((root / "manifest.yml").read_bytes())


def sign_package(
    path: Path, private: Ed25519PrivateKey, output: Path | None = None
) -> tuple[Signature, Path]:
    """Sign ``path``: a folder gets its ``SIGNATURE`` written in place; an archive is
    written again with one, to ``output`` (default ``<name>.signed.tar.gz`` beside it).
    Returns the signature and what was written."""
    with unpacked(path) as root:
        manifest = manifest_of(root)
        files = file_list(root)
        signature = sign(private, manifest.key, manifest.version, files_digest(files))
        if path.is_dir():
            return signature, write_signature(path, signature)
        write_signature(root, signature)
        target = output or path.with_name(_signed_name(path.name))
        target.write_bytes(pack(root, exclude=[target]))
        return signature, target


def _signed_name(name: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)] + ".signed.tar.gz"
    return name + ".signed.tar.gz"


def verify_package(
    path: Path, find: Callable[[str], SigningKey | None]
) -> tuple[Manifest, Assessment]:
    """The manifest of ``path`` and what its files and signature are worth with the
    keys ``find`` gives."""
    with unpacked(path) as root:
        manifest = manifest_of(root)
        return manifest, assess_with(root, manifest.key, manifest.version, find)
