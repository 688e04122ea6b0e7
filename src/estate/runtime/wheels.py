"""Wheels of a plugin's requirements, for a host that cannot reach an index.

:func:`download` resolves a requirements file for the service's own Python and platform
(the interpreter every plugin environment is made with, ``environments._fill``) and
writes a wheel of every package it needs, dependencies included, into a folder: the
wheel the index or a ``--find-links`` location offers, or one built from a source
distribution where only that exists. uv has no download command, so this is ``pip
wheel`` of the service's interpreter (``python -m pip``); it runs on the connected host
that exports a bundle, never under ``ESTATE_OFFLINE=1`` unless every source given is a
local folder.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .environments import INSTALL_TIMEOUT, TAIL_LINES, without_estate
from .errors import PluginEnvironmentError


def download(
    requirements: Path,
    dest: Path,
    *,
    find_links: Sequence[str] = (),
    index_url: str | None = None,
    offline: bool = False,
    name: str | None = None,
) -> list[Path]:
    """Write a wheel of every package ``requirements`` needs into ``dest``; returns them.

    ``find_links`` (folders or URLs of pages of links) come before the index:
    ``index_url``, else pip's own configuration; with ``offline`` no index at all.
    Raises ``PluginEnvironmentError`` naming ``name`` (the requirements file by default)
    with pip's last lines: a requirement no source offers, a source distribution that
    does not build.
    """
    name = name or requirements.name
    if importlib.util.find_spec("pip") is None:
        raise PluginEnvironmentError(
            f"{name}: downloading wheels needs pip in the service's Python ({sys.executable}):"
            " install it (`uv pip install pip`)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.iterdir())
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir"]
    argv += ["--disable-pip-version-check", "--no-input", "--wheel-dir", str(dest)]
    argv += ["-r", str(requirements)]
    for location in find_links:
        argv += ["--find-links", location]
    if offline:
        argv.append("--no-index")
    elif index_url is not None:
        argv += ["--index-url", index_url]
    _run(argv, name)
    made = sorted(set(dest.iterdir()) - before)
    strays = [path.name for path in made if path.suffix != ".whl"]
    if strays:
        raise PluginEnvironmentError(f"{name}: pip wrote files that are not wheels: {strays}")
    return sorted(path for path in dest.iterdir() if path.suffix == ".whl")


def _run(argv: list[str], name: str) -> None:
    # pip inherits the service's proxies, CA bundle and pip configuration, never its secrets.
    env = without_estate(os.environ)
    env["PIP_NO_WARN_SCRIPT_LOCATION"] = "1"
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise PluginEnvironmentError(
            f"{name}: downloading wheels took over {INSTALL_TIMEOUT:g} s"
        ) from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        tail = "\n".join(output.splitlines()[-TAIL_LINES:])
        raise PluginEnvironmentError(f"{name}: downloading wheels failed: {tail}", output)
