"""``python -m inventory_providers define|serve|unpack``: the SDK's command line.

The verbs are Digital Rebar's: ``define`` prints the plugin's providers as JSON,
``serve`` speaks the wire protocol (``serve.py``) on a socket inherited from the host,
``unpack`` copies the plugin's files elsewhere. See ``docs/protocol.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import shutil
import socket
from pathlib import Path

from . import __version__
from .loader import PluginLoadError, find_providers, load_class
from .protocol import PROTOCOL_VERSIONS
from .serve import Channel, _error, _WireLogHandler, serve

__all__ = ["main"]


def _define(plugin_dir: Path) -> int:
    try:
        providers = find_providers(plugin_dir)
    except PluginLoadError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    print(
        json.dumps(
            {
                "ok": True,
                "protocol_versions": list(PROTOCOL_VERSIONS),
                "sdk_version": __version__,
                "providers": [{**cls.metadata(), "class_path": path} for path, cls in providers],
            }
        )
    )
    return 0


def _serve(fd: int, plugin_dir: Path, class_path: str, log_level: str) -> int:
    sock = socket.socket(fileno=fd)
    channel = Channel(sock)
    handler = _WireLogHandler(channel)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(log_level.upper())
    try:
        cls = load_class(plugin_dir, class_path)
    except PluginLoadError as exc:
        # Answer the handshake with the reason, so the host can show it.
        message = channel.receive()
        req_id = message.get("id") if message else None
        channel.send(_error(req_id, -32001, str(exc), "invalid_plugin"))
        return 1
    # The plugin and its libraries are loaded for good: keep them out of GC passes.
    gc.freeze()
    serve(channel, cls, class_path, plugin_dir)
    return 0


def _unpack(plugin_dir: Path, dest: Path) -> int:
    """Copy the plugin folder's files, without ``__pycache__``, into ``dest``."""
    source, target = plugin_dir.resolve(), dest.resolve()
    if target == source or source in target.parents:
        print(json.dumps({"ok": False, "error": f"{dest} is inside the plugin folder"}))
        return 1
    copied: list[str] = []

    def copy(src: str, dst: str) -> object:
        copied.append(dst)
        return shutil.copy2(src, dst)

    try:
        shutil.copytree(
            source,
            target,
            ignore=shutil.ignore_patterns("__pycache__"),
            copy_function=copy,
            dirs_exist_ok=True,
        )
    except OSError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    print(json.dumps({"ok": True, "files": len(copied)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m inventory_providers define|serve|unpack`` (Digital Rebar's verbs)."""
    parser = argparse.ArgumentParser(prog="python -m inventory_providers")
    verbs = parser.add_subparsers(dest="verb", required=True)
    define = verbs.add_parser("define", help="print the plugin's providers as JSON and exit")
    define.add_argument("--plugin-dir", type=Path, default=Path.cwd())
    run = verbs.add_parser("serve", help="speak the wire protocol on an inherited socket")
    run.add_argument("--fd", type=int, required=True)
    run.add_argument("--plugin-dir", type=Path, default=Path.cwd())
    run.add_argument("--class-path", required=True)
    run.add_argument("--log-level", default="info")
    unpack = verbs.add_parser("unpack", help="copy the plugin's files into DIR and exit")
    unpack.add_argument("dir", type=Path, metavar="DIR")
    unpack.add_argument("--plugin-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    if args.verb == "define":
        return _define(args.plugin_dir)
    if args.verb == "unpack":
        return _unpack(args.plugin_dir, args.dir)
    return _serve(args.fd, args.plugin_dir, args.class_path, args.log_level)
