"""What a plugin process inherits: the service's environment minus Estate's secrets.

Proxies, CA bundles and platform SDK settings (``AWS_ENDPOINT_URL``, ``HTTPS_PROXY``,
``REQUESTS_CA_BUNDLE``, …) reach the plugin as they would any program on the host;
no ``ESTATE_*`` variable does, so the secret key, the database URL and the admin
password never enter plugin code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class PluginEnvironment:
    """Where a stored plugin version lives and what it runs with."""

    plugin_dir: Path
    site_dir: Path | None = None
    python: str = sys.executable

    def argv(self, *verb: str) -> list[str]:
        return [
            self.python,
            "-m",
            "inventory_providers",
            *verb,
            "--plugin-dir",
            # Absolute: the child runs with the plugin folder as its working directory.
            str(self.plugin_dir.resolve()),
        ]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return child_env(base if base is not None else os.environ, self.site_dir)


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
