"""Find and import the provider class of a plugin folder, as seed 000 lays it out.

The folder is imported as a package of its own (so ``from .provider import X`` in its
``__init__.py`` works) under a private name derived from the folder's path
(``estate_plugin_<digest>``), so two plugins loaded into one process never collide.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

from .provider import BaseProvider

__all__ = [
    "PACKAGE_NAME",
    "PluginLoadError",
    "describe_import_error",
    "find_providers",
    "load_class",
    "package_name",
    "plugin_traceback",
]

PACKAGE_NAME = "estate_plugin"
MAX_TRACEBACK_FRAMES = 20  # the newest ones: the failing line is last


class PluginLoadError(Exception):
    """The plugin folder cannot be imported or has no usable provider class."""


def package_name(plugin_dir: Path) -> str:
    """The private package name the folder is imported under."""
    digest = hashlib.sha256(str(plugin_dir.resolve()).encode()).hexdigest()[:16]
    return f"{PACKAGE_NAME}_{digest}"


def _import_package(plugin_dir: Path) -> ModuleType:
    name = package_name(plugin_dir)
    if name in sys.modules:
        return sys.modules[name]
    init = plugin_dir / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(plugin_dir)]
        )
    else:  # a folder without __init__.py is still imported as a package
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(plugin_dir)]
    if spec is None:  # pragma: no cover - only for paths importlib cannot express
        raise PluginLoadError(f"cannot import {plugin_dir}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    # Plugins written for seed 000 sometimes import siblings absolutely.
    if str(plugin_dir) not in sys.path:
        sys.path.append(str(plugin_dir))
    try:
        if spec.loader is not None:
            spec.loader.exec_module(package)
    except BaseException:
        # A half-imported package must not be handed out by the next call.
        sys.modules.pop(name, None)
        raise
    return package


def describe_import_error(exc: BaseException, plugin_dir: Path) -> str:
    """One line: the error and the plugin file and line where it happened."""
    if isinstance(exc, SyntaxError) and exc.filename:
        # str() of a SyntaxError already ends with "(file, line N)": name it once.
        name = _relative(exc.filename, plugin_dir) or Path(exc.filename).name
        return f"{type(exc).__name__}: {exc.msg} ({name}, line {exc.lineno})"
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        relative = _relative(frame.filename, plugin_dir)
        if relative is not None:
            where = f" ({relative}, line {frame.lineno})"
            break
    return f"{type(exc).__name__}: {exc}{where}"


def plugin_traceback(exc: BaseException, plugin_dir: Path) -> str:
    """``exc``'s traceback as Python writes it, with the plugin's own frames only.

    Frames whose file is outside ``plugin_dir`` (the SDK's, the standard library's,
    installed libraries') are left out, and file names are relative to the folder::

        Traceback (most recent call last):
          File "provider.py", line 12, in collect
            host = self.credential.extra["host"]
        KeyError: 'host'

    Empty when no frame is the plugin's.
    """
    frames = [
        traceback.FrameSummary(relative, frame.lineno, frame.name, line=frame.line)
        for frame in traceback.extract_tb(exc.__traceback__)
        if (relative := _relative(frame.filename, plugin_dir)) is not None
    ]
    if not frames:
        return ""
    lines = traceback.StackSummary.from_list(frames[-MAX_TRACEBACK_FRAMES:]).format()
    return "".join(
        ["Traceback (most recent call last):\n", *lines, *traceback.format_exception_only(exc)]
    ).rstrip("\n")


def _relative(filename: str, plugin_dir: Path) -> str | None:
    """``filename`` relative to the plugin folder, or None when it is not inside it."""
    if filename.startswith("<"):  # "<frozen importlib._bootstrap>", "<string>": no file
        return None
    try:
        return Path(filename).resolve().relative_to(plugin_dir.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def _import_provider_module(plugin_dir: Path) -> ModuleType:
    if not (plugin_dir / "provider.py").is_file():
        raise PluginLoadError("provider.py is missing")
    try:
        package = _import_package(plugin_dir)
        return importlib.import_module(f"{package.__name__}.provider")
    except Exception as exc:  # plugin code can raise anything while importing
        raise PluginLoadError(f"import failed: {describe_import_error(exc, plugin_dir)}") from exc


def find_providers(plugin_dir: Path) -> list[tuple[str, type[BaseProvider]]]:
    """Every ``BaseProvider`` subclass defined in ``provider.py``, with its class path."""
    module = _import_provider_module(plugin_dir)
    found: list[tuple[str, type[BaseProvider]]] = []
    for name, obj in inspect.getmembers(module, inspect.isclass):
        if not issubclass(obj, BaseProvider) or obj is BaseProvider:
            continue
        if obj.__module__ == module.__name__:
            found.append((f"provider.{name}", obj))
    return found


def load_class(plugin_dir: Path, class_path: str) -> type[BaseProvider]:
    """The class named ``provider.ClassName`` in the plugin folder."""
    module_name, _, class_name = class_path.rpartition(".")
    if module_name != "provider" or not class_name:
        raise PluginLoadError(f"class path must look like 'provider.ClassName', got {class_path!r}")
    module = _import_provider_module(plugin_dir)
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, BaseProvider)):
        raise PluginLoadError(f"provider.py has no BaseProvider subclass named {class_name!r}")
    return cls
