"""Per-version Python environments: a uv virtual environment for each version with requirements.

A stored version whose ``requirements.txt`` names packages gets its own environment at
``<version dir>/venv``, built once when it is uploaded and reused by every run. It holds
the SDK and exactly those requirements, so two plugins pinning different versions of one
library never meet. Versions without requirements share one environment holding only
the SDK (``<data dir>/environments/sdk-pyX.Y`` or under ``ESTATE_ENVIRONMENTS_DIR``,
made once): they see neither the
service's packages nor each other's.

The environment is made with ``uv venv --relocatable`` (it is built in a staging folder
and renamed into place) on the service's own Python. The SDK is added the way an editable
install adds it, with a ``.pth`` file naming the folder ``inventory_providers`` is
imported from: building the SDK would need its build backend from an index, and the
plugin's side of the wire protocol must be the very code the service speaks with.
Requirements come from the plugin's ``wheels/`` folder and ``settings.wheelhouse`` first;
with ``settings.offline`` those are the only sources and no index is ever reached.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from importlib.metadata import PackageNotFoundError, distribution
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


_SDK_ENV_LOCK = threading.Lock()


def sdk_environment(settings: Settings) -> Path:
    """The interpreter of the environment shared by versions without requirements.

    A uv virtual environment with the SDK and nothing else, made on first use (built
    in a staging folder and renamed into place, so concurrent starts are safe).
    """
    tag = f"sdk-py{sys.version_info.major}.{sys.version_info.minor}"
    venv = settings.resolved_environments_dir / tag
    python = venv / "bin" / "python"
    if python.is_file():
        return python
    with _SDK_ENV_LOCK:
        if python.is_file():
            return python
        venv.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{tag}-", dir=venv.parent))
        try:
            _run(
                [
                    _uv(),
                    "venv",
                    "--quiet",
                    "--relocatable",
                    "--python",
                    sys.executable,
                    str(staging),
                ],
                "the SDK environment",
                "creating the environment",
            )
            _add_sdk(staging)
            _add_accelerator(staging)
            try:
                staging.rename(venv)
            except OSError:
                if not python.is_file():  # another process won the race: use its copy
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return python


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

    The plugin's own Python files are compiled to bytecode here too, as the
    requirements are (``--compile-bytecode``): every job starts a process from this
    folder, and where ``PYTHONDONTWRITEBYTECODE`` is set none would keep the bytecode
    it compiled (a platform SDK such as boto3 takes seconds to compile).

    Raises ``InstallFailed`` naming the requirements file, with the installer's last lines.
    """
    # A file that does not compile is reported by the define step, which imports it.
    compileall.compile_dir(plugin_dir, quiet=2, workers=1)
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
    argv = [_uv(), "pip", "install", "--no-progress", "--compile-bytecode"]
    argv += ["--python", str(venv_python(version_dir))]
    argv += ["-r", str(requirements), *_sources(plugin_dir, settings)]
    installed = _run(argv, name, "installing the requirements")
    _add_accelerator(venv)
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


def _site_packages(venv: Path) -> Path:
    return (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )


def _add_sdk(venv: Path) -> None:
    """Make the service's SDK importable in the environment, as an editable install does."""
    source = Path(inventory_providers.__file__).resolve().parents[1]
    (_site_packages(venv) / "_estate_sdk.pth").write_text(f"{source}\n", encoding="utf-8")


def _add_accelerator(venv: Path) -> None:
    """Give the SDK its optional JSON accelerator (the ``fast`` extra: orjson).

    The SDK runs on the standard library alone, but encoding a collection with
    ``json`` costs ~8 µs a resource against ~0.5 µs with orjson: half of what a plugin
    spends per resource. The service's own copy is copied in (same interpreter, so
    the same ABI; no index reached), unless the plugin's requirements brought one.
    """
    site_packages = _site_packages(venv)
    if (site_packages / "orjson").exists():
        return
    try:
        dist = distribution("orjson")
    except PackageNotFoundError:  # the service runs without it: the SDK falls back
        return
    for file in dist.files or ():
        source = Path(str(dist.locate_file(file)))
        target = site_packages / file
        if ".." in file.parts or not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


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
