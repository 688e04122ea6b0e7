"""What a plugin process inherits: the service's environment minus Estate's secrets.

Proxies, CA bundles and platform SDK settings (``AWS_ENDPOINT_URL``, ``HTTPS_PROXY``,
``REQUESTS_CA_BUNDLE``, …) reach the plugin as they would any program on the host;
no ``ESTATE_*`` variable does, so the secret key, the database URL and the admin
password never enter plugin code.

A plugin is started either through the SDK (``python -m inventory_providers VERB``) or,
when its manifest names ``runtime: {command: [...]}``, as that program (``node plugin.js
VERB``): either way with Digital Rebar's verbs ``define``, ``serve`` and ``unpack``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PluginStartError


@dataclass(frozen=True, slots=True)
class PluginEnvironment:
    """Where a stored plugin version lives and what it runs with.

    ``command`` is the manifest's ``runtime.command`` for a plugin that is a program of
    its own; without one the plugin is a ``provider.py`` run by the SDK under ``python``:
    the version's own virtual environment when it has requirements, else the service's.
    ``site_dir`` puts a folder of packages first on the child's ``PYTHONPATH``.
    """

    plugin_dir: Path
    site_dir: Path | None = None
    python: str = sys.executable
    command: tuple[str, ...] | None = None

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
    plugin_dir: Path, manifest: Mapping[str, Any], *, python: str | None = None
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


def child_env(base: Mapping[str, str], site_dir: Path | None) -> dict[str, str]:
    """``base`` without Estate's variables, with the plugin's private packages first."""
    env = {k: v for k, v in base.items() if not k.startswith("ESTATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    # Stored versions are immutable: no __pycache__ written into them.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if site_dir is not None:
        paths = [str(site_dir)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
