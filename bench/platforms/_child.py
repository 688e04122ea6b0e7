"""How every platform benchmark runs its plugin: the built-in plugin in a real child
process, as the service runs it (its own environment built from its requirements.txt,
confined), ``configure`` then ``collect``, every record checked as the service checks
it (``to_record``), no database."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import yaml

from estate.config import Settings
from estate.inventory.records import to_record
from estate.runtime.environments import (
    PluginEnvironment,
    build_requirements_environment,
    environment_at,
    managed_requirements,
)
from estate.runtime.host import PluginProcess

ENVIRONMENTS = Path(tempfile.gettempdir()) / "estate-bench-environments"


def plugin_environment(
    plugin_dir: Path, workdir: Path, readable: Sequence[Path] = ()
) -> tuple[PluginEnvironment, dict[str, Any]]:
    """The plugin's environment (built once, outside any timing) and its manifest."""
    manifest: dict[str, Any] = yaml.safe_load((plugin_dir / "manifest.yml").read_text())
    settings = Settings(
        data_dir=workdir / "data", environments_dir=ENVIRONMENTS, plugin_readable=list(readable)
    )
    requirements = managed_requirements(plugin_dir, manifest)
    if requirements is not None:
        build_requirements_environment(settings, requirements)
    return environment_at(plugin_dir, manifest, settings), manifest


class Records:
    """The host's side of ``collect.batch``: each record checked as the service checks
    it, counted per resource type."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.allowed = frozenset(manifest["supported_resource_types"])
        self.kinds: dict[str, int] = {}

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        if method != "collect.batch":
            return
        for item in params["resources"]:
            to_record(item, self.allowed)
            slug = msgspec.json.decode(item)["resource_type_slug"]
            self.kinds[slug] = self.kinds.get(slug, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def collect(
    environment: PluginEnvironment,
    class_path: str,
    records: Records,
    credential: dict[str, Any],
    provider: dict[str, Any] | None = None,
    *,
    batch_size: int = 1000,
    timeout: float = 600,
) -> tuple[float, dict[str, Any]]:
    """``(seconds of configure + collect, collect's answer)`` in one new child process
    (its start is not counted). Raises ``SystemExit`` when the plugin's count and what
    it sent disagree."""
    sent_before = records.total
    with PluginProcess(environment, class_path) as process:
        started = time.perf_counter()
        process.call(
            "configure", {"provider": provider or {"name": "bench"}, "credential": credential}
        )
        result: dict[str, Any] = process.call(
            "collect", {"batch_size": batch_size}, timeout=timeout, on_notification=records
        )
        seconds = time.perf_counter() - started
    if result["count"] != records.total - sent_before:
        raise SystemExit(f"plugin said {result['count']}, sent {records.total - sent_before}")
    return seconds, result
