"""Plugin environments: where a stored plugin version's code is, what runs it, and how.

One concept in one place. A plugin process is started either through the SDK
(``python -m inventory_providers VERB``) or, when its manifest names ``runtime:
{command: [...]}``, as that program (``node plugin.js VERB``): either way with Digital
Rebar's verbs ``define``, ``serve`` and ``unpack``. It inherits the service's
environment minus every ``ESTATE_*`` variable (:func:`child_env`), so proxies, CA
bundles and platform SDK settings reach it and the service's secrets do not.

A stored version folder holds ``plugin/`` (its files) and, when its requirements
name packages, ``venv/``: a uv virtual environment built once at upload with the
SDK and exactly those requirements, so two plugins pinning different versions of one
library never meet. Versions without requirements share one environment holding only
the SDK (``<data dir>/environments/sdk-pyX.Y-<digest>`` or under ``ESTATE_ENVIRONMENTS_DIR``):
they see neither the service's packages nor each other's.

Environments are made with ``uv venv --relocatable`` on the service's own Python. The
SDK is added the way an editable install adds it, with a ``.pth`` file naming the
folder ``inventory_providers`` is imported from: the plugin's side of the wire
protocol must be the very code the service speaks with. Requirements come from the
plugin's ``wheels/`` folder and the wheelhouse (``settings.resolved_wheelhouse``, where a
bundle's wheels are imported) first; with ``settings.offline`` those are the only
sources, no index is ever reached, and a requirement in neither is named with what to do.
"""

from __future__ import annotations

import compileall
import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from ..config import Settings
from .confinement import DEFAULT, Confinement, confinement_of, sdk_source
from .errors import PluginEnvironmentError, PluginStartError

PLUGIN_SUBDIR = "plugin"
VENV_SUBDIR = "venv"
INSTALL_TIMEOUT = 600.0
TAIL_LINES = 15


@dataclass(frozen=True, slots=True)
class PluginEnvironment:
    """Where a stored plugin version lives and what it runs with.

    ``command`` is the manifest's ``runtime.command`` for a plugin that is a program of
    its own; without one the plugin is a ``provider.py`` run by the SDK under ``python``:
    the version's own virtual environment when it has requirements, else the service's.
    ``site_dir`` puts a folder of packages first on the child's ``PYTHONPATH``.
    ``confinement`` is how its processes are confined (``confinement.launch``).
    ``state_dir`` is a folder that outlives the process (one per provider): every
    process of that provider may write it, and finds it as ``STATE_DIR_VARIABLE``.
    ``files`` is the stored version's file list (``integrity.file_list`` as sorted
    pairs): ``confinement.launch`` checks ``plugin_dir`` against it before every start.
    """

    plugin_dir: Path
    site_dir: Path | None = None
    python: str = sys.executable
    command: tuple[str, ...] | None = None
    confinement: Confinement = DEFAULT
    state_dir: Path | None = None
    files: tuple[tuple[str, str], ...] | None = None

    def argv(self, *verb: str) -> list[str]:
        """The command line of one verb; raises ``PluginStartError`` for a missing program."""
        return [
            *self.program(),
            *verb,
            "--plugin-dir",
            # Absolute: the child runs with the plugin folder as its working directory.
            str(self.plugin_dir.resolve()),
        ]

    def program(self) -> list[str]:
        """What runs the plugin, before its verb: the SDK, or the resolved ``command``."""
        if self.command is None:
            return [self.python, "-m", "inventory_providers"]
        return [_resolve(self.command[0], self.plugin_dir, self.env()), *self.command[1:]]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return child_env(base if base is not None else os.environ, self.site_dir)


def for_manifest(
    plugin_dir: Path,
    manifest: Mapping[str, Any],
    *,
    python: str | None = None,
    confinement: Confinement | None = None,
) -> PluginEnvironment:
    """The environment of a plugin folder, with the ``runtime.command`` its manifest names.

    ``python`` is the interpreter of the version's own environment, when it has one.
    """
    runtime = manifest.get("runtime")
    command = runtime.get("command") if isinstance(runtime, Mapping) else None
    return PluginEnvironment(
        plugin_dir=plugin_dir,
        python=python or sys.executable,
        command=tuple(str(part) for part in command) if command else None,
        confinement=confinement or DEFAULT,
    )


def _resolve(executable: str, plugin_dir: Path, env: Mapping[str, str]) -> str:
    """A path inside the plugin folder, or a bare name looked up on the child's PATH."""
    if "/" not in executable:
        found = shutil.which(executable, path=env.get("PATH", os.defpath))
        if found is None:
            raise PluginStartError(f"runtime.command: {executable!r} not found on PATH")
        return found
    path = plugin_dir.resolve() / executable  # an absolute path stays as it is
    if not path.is_file():
        where = "" if Path(executable).is_absolute() else " in the plugin folder"
        raise PluginStartError(f"runtime.command: {executable!r} not found{where}")
    return str(path)


def without_estate(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without any ``ESTATE_*`` variable: what every program the service
    starts for a plugin (the plugin itself, its installer) inherits."""
    return {k: v for k, v in base.items() if not k.startswith("ESTATE_")}


def child_env(base: Mapping[str, str], site_dir: Path | None) -> dict[str, str]:
    """``base`` without Estate's variables, with the plugin's private packages first."""
    env = without_estate(base)
    env["PYTHONUNBUFFERED"] = "1"
    # Stored versions are immutable: no __pycache__ written into them.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if site_dir is not None:
        paths = [str(site_dir)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def environment_at(
    root: Path, manifest: Mapping[str, Any], settings: Settings
) -> PluginEnvironment:
    """The environment of the version folder ``root``: its own venv's Python if it has
    one; for a managed folder with requirements, the environment made of them (which
    must have been built: :func:`build_requirements_environment`); else the shared
    SDK-only environment's.

    Raises ``PluginEnvironmentError`` when a managed folder's environment is not built.
    """
    python = venv_python(root)
    if not python.is_file():
        requirements = managed_requirements(root, manifest)
        if requirements is None:
            python = sdk_environment(settings)
        else:
            python = requirements_environment(settings, requirements) / "bin" / "python"
            if not python.is_file():
                raise PluginEnvironmentError(
                    f"{requirements}: the environment of these requirements is not built yet "
                    "(the plugin version is still preparing)"
                )
    return for_manifest(
        plugin_folder(root), manifest, python=str(python), confinement=confinement_of(settings)
    )


def managed_requirements(root: Path, manifest: Mapping[str, Any]) -> Path | None:
    """The requirements file of a managed plugin folder (run in place, without a
    ``plugin/`` subfolder), when it names packages; None for anything else."""
    if (root / PLUGIN_SUBDIR).is_dir():
        return None
    dependencies = manifest.get("dependencies")
    named = dependencies.get("python") if isinstance(dependencies, Mapping) else None
    path = root / str(named or "requirements.txt")
    return path if has_requirements(path) else None


def requirements_environment(settings: Settings, requirements: Path) -> Path:
    """Where the environment made of ``requirements`` lives (built or not).

    Built-in plugins run from their folder in place, which is not the service's to
    write into; their environments live beside the SDK-only one, named by what they
    are made of (the requirements' text, the SDK checkout, the Python): a changed
    requirements file gets a new environment, and two plugins asking for the same
    packages share one.
    """
    digest = hashlib.blake2b(digest_size=6)
    digest.update(requirements.read_bytes())
    digest.update(sdk_environment_name().encode())
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return settings.resolved_environments_dir / f"req-{tag}-{digest.hexdigest()}"


def build_requirements_environment(settings: Settings, requirements: Path) -> str:
    """Build :func:`requirements_environment` unless it is built; returns the installer's log.

    Built in a staging folder and renamed into place, under a file lock: two services
    (or two workers) sharing the environments folder build it once, the second waits.
    Raises ``PluginEnvironmentError`` naming the requirements file, with uv's last lines.
    """
    venv = requirements_environment(settings, requirements)
    if (venv / "bin" / "python").is_file():
        _open_to_plugins(venv)
        return ""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / "bin" / "python").is_file():
            return ""
        staging = Path(tempfile.mkdtemp(prefix=f".{venv.name}-", dir=venv.parent))
        try:
            log = _fill(staging, requirements, requirements.parent, settings)
            staging.chmod(0o755)  # mkdtemp's 0700 would shut out the plugin users
            staging.rename(venv)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return log


def plugin_folder(root: Path) -> Path:
    """The plugin's own files inside the version folder ``root``."""
    plugin_dir = root / PLUGIN_SUBDIR
    # Managed plugins run from their folder in place.
    return plugin_dir if plugin_dir.is_dir() else root


_SDK_ENV_LOCK = threading.Lock()


def sdk_environment(settings: Settings) -> Path:
    """The interpreter of the environment shared by versions without requirements.

    A uv virtual environment with the SDK and nothing else, made on first use (built
    in a staging folder and renamed into place, so concurrent starts are safe).
    """
    venv = settings.resolved_environments_dir / sdk_environment_name()
    tag = venv.name
    python = venv / "bin" / "python"
    if python.is_file():
        _open_to_plugins(venv)
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
            staging.chmod(0o755)  # mkdtemp's 0700 would shut out the plugin users
            try:
                staging.rename(venv)
            except OSError:
                if not python.is_file():  # another process won the race: use its copy
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return python


def _open_to_plugins(venv: Path) -> None:
    """0755: an environment built by an earlier release kept mkdtemp's 0700, which
    shuts out the plugin users."""
    if venv.stat().st_mode & 0o777 == 0o700:
        venv.chmod(0o755)


@functools.cache
def sdk_environment_name() -> str:
    """``sdk-pyX.Y-<digest of the SDK's folder>``: one per Python and SDK checkout.

    The environment names the SDK's folder (a ``.pth``), so two checkouts sharing an
    environments folder (``ESTATE_ENVIRONMENTS_DIR``, a benchmark's temporary one)
    must not share it: a confined plugin may read only its own service's SDK.
    """
    digest = hashlib.blake2b(str(sdk_source()).encode(), digest_size=4).hexdigest()
    return f"sdk-py{sys.version_info.major}.{sys.version_info.minor}-{digest}"


def venv_python(version_dir: Path) -> Path:
    """The interpreter of the version's environment (which may not exist)."""
    return version_dir / VENV_SUBDIR / "bin" / "python"


def has_requirements(path: Path) -> bool:
    """Whether ``path`` exists and names at least one requirement."""
    if not path.is_file():
        return False
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return any(line.strip() and not line.strip().startswith("#") for line in lines)


def prepare_environment(
    version_dir: Path, plugin_dir: Path, requirements_file: str, settings: Settings
) -> str:
    """Build ``<version_dir>/venv`` when the plugin has requirements; returns the installer's log.

    The plugin's own Python files are compiled to bytecode here too, as the
    requirements are (``--compile-bytecode``): every job starts a process from this
    folder, and where ``PYTHONDONTWRITEBYTECODE`` is set none would keep the bytecode
    it compiled (a platform SDK such as boto3 takes seconds to compile).

    Raises ``PluginEnvironmentError`` naming the requirements file, with the installer's last lines.
    """
    # A file that does not compile is reported by the define step, which imports it.
    compileall.compile_dir(plugin_dir, quiet=2, workers=1)
    name = requirements_file
    requirements = plugin_dir / name
    if not has_requirements(requirements):
        return ""
    return _fill(version_dir / VENV_SUBDIR, requirements, plugin_dir, settings)


def _fill(venv: Path, requirements: Path, plugin_dir: Path, settings: Settings) -> str:
    """Make the environment ``venv``: the SDK, ``requirements``, the accelerator."""
    name = requirements.name
    made = _run(
        [_uv(), "venv", "--quiet", "--relocatable", "--python", sys.executable, str(venv)],
        name,
        "creating the environment",
    )
    _add_sdk(venv)
    argv = [_uv(), "pip", "install", "--no-progress", "--compile-bytecode"]
    argv += ["--python", str(venv / "bin" / "python")]
    argv += ["-r", str(requirements), *_sources(plugin_dir, settings)]
    try:
        installed = _run(argv, name, "installing the requirements")
    except PluginEnvironmentError as exc:
        if not settings.offline:
            raise
        raise PluginEnvironmentError(
            f"{exc}\n{_offline_advice(exc.log, settings)}", exc.log
        ) from None
    _add_accelerator(venv)
    return "\n".join(part for part in (made, installed) if part)


def _sources(plugin_dir: Path, settings: Settings) -> list[str]:
    """Where packages come from: the plugin's wheels, the service's wheelhouse, an index."""
    sources = []
    for folder in (plugin_dir / "wheels", settings.resolved_wheelhouse):
        if folder.is_dir():
            sources += ["--find-links", str(folder)]
    if settings.offline:
        sources += ["--offline", "--no-index"]
    return sources


_MISSING = re.compile(r"(?:Because|no version of|no versions of) ([A-Za-z0-9][A-Za-z0-9._-]*)")


def _offline_advice(log: str, settings: Settings) -> str:
    """What an operator does about a requirement offline installs cannot find."""
    names = sorted({found.group(1) for found in _MISSING.finditer(log)} - {"you", "the"})
    missing = ", ".join(names) or "a requirement"
    return (
        f"offline (ESTATE_OFFLINE=1): requirements install only from the wheelhouse "
        f"{settings.resolved_wheelhouse} and the plugin's wheels/, and {missing} is in "
        "neither: import a bundle that contains it (`estate plugin bundle import`)"
    )


def _site_packages(venv: Path) -> Path:
    return (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )


def _add_sdk(venv: Path) -> None:
    """Make the service's SDK importable in the environment, as an editable install does."""
    (_site_packages(venv) / "_estate_sdk.pth").write_text(f"{sdk_source()}\n", encoding="utf-8")


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
    env = without_estate(os.environ)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise PluginEnvironmentError(f"{name}: {doing} took over {INSTALL_TIMEOUT:g} s") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-TAIL_LINES:])
        raise PluginEnvironmentError(f"{name}: {doing} failed: {tail}", output)
    return output


def remove_environment(version_dir: Path) -> None:
    """Drop a version's environment (after its preparation failed: it is never used)."""
    shutil.rmtree(version_dir / VENV_SUBDIR, ignore_errors=True)


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())
