"""The only commands that work without the service: check and pack a plugin folder.

Every import of the service's internals the CLI needs (outside ``serve``) is here,
inside the functions, so moving those modules touches this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
