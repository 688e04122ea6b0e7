"""Per-version Python environments: a uv virtual environment for each version with requirements.

A stored version whose ``requirements.txt`` names packages gets its own environment at
``<version dir>/venv``, built once when it is uploaded and reused by every run. It holds
the SDK and exactly those requirements, so two plugins pinning different versions of one
library never meet. A version without requirements has no environment and runs on the
service's interpreter: nothing to prepare, nothing to start but the SDK.

The environment is made with ``uv venv --relocatable`` (it is built in a staging folder
and renamed into place) on the service's own Python. The SDK is added the way an editable
install adds it, with a ``.pth`` file naming the folder ``inventory_providers`` is
imported from: building the SDK would need its build backend from an index, and the
plugin's side of the wire protocol must be the very code the service speaks with.
Requirements come from the plugin's ``wheels/`` folder and ``settings.wheelhouse`` first;
with ``settings.offline`` those are the only sources and no index is ever reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import inventory_providers

from ..config import Settings
from .errors import InvalidPackage
from .manifest import Manifest

VENV_SUBDIR = "venv"
INSTALL_TIMEOUT = 600.0
TAIL_LINES = 15


class InstallFailed(InvalidPackage):
    """The version's environment could not be prepared; ``log`` is the installer's output."""

    def __init__(self, problem: str, log: str = "") -> None:
        super().__init__(problem)
        self.log = log


def venv_python(version_dir: Path) -> Path:
    """The interpreter of the version's environment (which may not exist)."""
    return version_dir / VENV_SUBDIR / "bin" / "python"


def requirements_name(manifest: Manifest) -> str:
    """The requirements file the manifest names, ``requirements.txt`` by default."""
    if manifest.dependencies is not None and manifest.dependencies.python:
        return manifest.dependencies.python
    return "requirements.txt"


def has_requirements(path: Path) -> bool:
    """Whether ``path`` exists and names at least one requirement."""
    if not path.is_file():
        return False
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return any(line.strip() and not line.strip().startswith("#") for line in lines)


def prepare_environment(
    version_dir: Path, plugin_dir: Path, manifest: Manifest, settings: Settings
) -> str:
    """Build ``<version_dir>/venv`` when the plugin has requirements; returns the installer's log.

    Raises ``InstallFailed`` naming the requirements file, with the installer's last lines.
    """
    name = requirements_name(manifest)
    requirements = plugin_dir / name
    if not has_requirements(requirements):
        return ""
    venv = version_dir / VENV_SUBDIR
    made = _run(
        [_uv(), "venv", "--quiet", "--relocatable", "--python", sys.executable, str(venv)],
        name,
        "creating the environment",
    )
    _add_sdk(venv)
    argv = [_uv(), "pip", "install", "--no-progress", "--python", str(venv_python(version_dir))]
    argv += ["-r", str(requirements), *_sources(plugin_dir, settings)]
    installed = _run(argv, name, "installing the requirements")
    return "\n".join(part for part in (made, installed) if part)


def _sources(plugin_dir: Path, settings: Settings) -> list[str]:
    """Where packages come from: the plugin's wheels, the service's wheelhouse, an index."""
    sources = []
    for folder in (plugin_dir / "wheels", settings.wheelhouse):
        if folder is not None and folder.is_dir():
            sources += ["--find-links", str(folder)]
    if settings.offline:
        sources += ["--offline", "--no-index"]
    return sources


def _add_sdk(venv: Path) -> None:
    """Make the service's SDK importable in the environment, as an editable install does."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = venv / "lib" / version / "site-packages"
    source = Path(inventory_providers.__file__).resolve().parents[1]
    (site_packages / "_estate_sdk.pth").write_text(f"{source}\n", encoding="utf-8")


def _run(argv: list[str], name: str, doing: str) -> str:
    # The installer inherits the service's proxies and CA bundle, never its secrets.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise InstallFailed(f"{name}: {doing} took over {INSTALL_TIMEOUT:g} s") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-TAIL_LINES:])
        raise InstallFailed(f"{name}: {doing} failed: {tail}", output)
    return output


def remove_environment(version_dir: Path) -> None:
    """Drop a version's environment (after its preparation failed: it is never used)."""
    shutil.rmtree(version_dir / VENV_SUBDIR, ignore_errors=True)


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())
