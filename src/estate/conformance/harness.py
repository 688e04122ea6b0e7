"""The plugin under test, run as the service runs it: child processes over the wire protocol.

A collection is a fresh process per run (as ``jobs/collect.py`` starts one), configured
with the provider's credential, its records validated by the service's own rules
(``inventory/records.py``). Actions and the ``actions`` offers go to one long-lived
configured process (as the supervisor keeps one per provider), where ``connect()`` has
not been called. Both share one state folder, as a provider's processes do.

Everything the plugin says — log lines, errors and their tracebacks, events, results,
records — passes the ``Witness``, which notes where a secret value appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from inventory_providers.protocol import BATCH_METHOD

from ..config import Settings
from ..inventory.records import DATA_COLUMNS, Record, to_record
from ..redaction import mask, maskable
from ..registry.manifest import Manifest
from ..runtime.confinement import confinement_of
from ..runtime.environments import PluginEnvironment, for_manifest
from ..runtime.errors import PluginCallError, PluginRuntimeError
from ..runtime.host import PluginProcess
from .target import Connection

MAX_LEAKS = 20


class Witness:
    """Notes every place a secret appears in what the plugin said."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._forms = maskable(secrets)
        self.leaks: list[str] = []
        self.seen = 0

    def see(self, where: str, text: str) -> None:
        self.seen += 1
        if self._forms and mask(text, self._forms) != text and len(self.leaks) < MAX_LEAKS:
            self.leaks.append(where)

    def see_value(self, where: str, value: Any) -> None:
        self.see(where, value if isinstance(value, str) else json.dumps(value, default=str))


@dataclass
class Collection:
    """One collection run: the valid records by ems_ref, and what was wrong."""

    records: dict[str, Record] = field(default_factory=dict)
    count: int = 0
    problems: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Any] = field(default_factory=list)
    incomplete: list[Any] = field(default_factory=list)
    error: PluginRuntimeError | None = None

    def resource(self, ems_ref: str) -> dict[str, Any] | None:
        """The record as columns (``resource_type`` as ``resource_type_slug``), or None."""
        record = self.records.get(ems_ref)
        if record is None:
            return None
        values = dict(zip(DATA_COLUMNS, record.values, strict=True))
        values["resource_type_slug"] = values.pop("resource_type")
        values["relationships"] = sorted(record.relationships)
        return {"ems_ref": ems_ref, **values}

    def refs_of(self, types: Iterable[str]) -> list[str]:
        wanted = set(types)
        return [ref for ref, r in self.records.items() if r.values[0] in wanted]


def offered_record(resource: dict[str, Any]) -> dict[str, Any]:
    """The stored resource as the plugin's ``available`` checks see it
    (``calls.actions.resource_record``'s shape)."""
    return {
        "ems_ref": resource["ems_ref"],
        "resource_type_slug": resource["resource_type_slug"],
        "name": resource.get("name"),
        "state": resource.get("state"),
        "power_state": resource.get("power_state"),
        "cpu_count": resource.get("cpu_count"),
        "memory_mb": resource.get("memory_mb"),
        "properties": resource.get("properties") or {},
        "provider_tags": resource.get("provider_tags") or {},
    }


class Harness:
    """Starts, calls and stops the plugin's processes; see the module docstring."""

    def __init__(
        self,
        environment: PluginEnvironment,
        class_path: str,
        manifest: Manifest,
        secret_keys: set[str],
        witness: Witness,
        settings: Settings,
    ) -> None:
        self.environment = environment
        self.class_path = class_path
        self.manifest = manifest
        self.secret_keys = secret_keys
        self.witness = witness
        self.settings = settings
        self.allowed_types = frozenset(manifest.supported_resource_types) or None
        self._resident: PluginProcess | None = None
        self._doing = "start"

    def process(self) -> PluginProcess:
        """A new, not yet started process of the plugin."""
        return PluginProcess(
            self.environment,
            self.class_path,
            on_log=self._log,
            start_timeout=self.settings.start_timeout,
            call_timeout=self.settings.call_timeout,
            log_level=self.settings.log_level,
        )

    def configure(self, process: PluginProcess, connection: Connection) -> None:
        model = connection.provider_model(self.manifest, self.secret_keys)
        self.call_on(
            process, "configure", {"provider": model, "credential": connection.credential()}
        )

    def call_on(
        self,
        process: PluginProcess,
        method: str,
        params: dict[str, Any],
        timeout: float | None = None,
    ) -> Any:
        """``method`` on ``process``; its result and any error pass the witness."""
        self._doing = method if method != "action" else f"action {params.get('name')}"
        try:
            result = process.call(method, params, timeout=timeout, on_notification=self._notified)
        except PluginCallError as exc:
            self.witness.see(f"the error of {self._doing}", f"{exc}\n{exc.traceback}")
            raise
        except PluginRuntimeError as exc:
            self.witness.see(f"the error of {self._doing}", str(exc))
            raise
        self.witness.see_value(f"the result of {self._doing}", result)
        return result

    def validate(self, connection: Connection) -> Any:
        """``validate`` in a fresh process configured with ``connection``."""
        with self.process() as process:
            self.configure(process, connection)
            return self.call_on(process, "validate", {})

    def collect(self, connection: Connection, types: Iterable[str] | None = None) -> Collection:
        """One collection in a fresh process; a plugin failure is the collection's ``error``."""
        found = Collection()
        params: dict[str, Any] = {"batch_size": self.settings.batch_size}
        if types:
            params["target_resource_types"] = sorted(set(types))

        def on_batch(method: str, notified: dict[str, Any]) -> None:
            if method == BATCH_METHOD:
                for item in notified.get("resources") or []:
                    self._add(found, item)
            else:
                self._notified(method, notified)

        try:
            with self.process() as process:
                self.configure(process, connection)
                self._doing = "collect"
                result = process.call(
                    "collect", params, timeout=self.settings.run_timeout, on_notification=on_batch
                )
        except PluginRuntimeError as exc:
            self.witness.see("the error of collect", f"{exc}\n{getattr(exc, 'traceback', '')}")
            found.error = exc
            return found
        if isinstance(result, dict):
            count = result.get("count")
            found.count = count if isinstance(count, int) else -1
            found.rejected = list(result.get("rejected") or [])
            found.incomplete = list(result.get("incomplete") or [])
            self.witness.see_value("the result of collect", result)
        return found

    def _add(self, found: Collection, item: Any) -> None:
        text = bytes(item).decode("utf-8", "replace") if isinstance(item, msgspec.Raw) else item
        index = len(found.records) + len(found.problems) + len(found.duplicates)
        self.witness.see_value(f"record {index} of a collection", text)
        try:
            record = to_record(item, self.allowed_types)
        except ValueError as exc:  # ResourceValidationError names the field
            found.problems.append(f"record {index}: {exc}")
            return
        if record.ems_ref in found.records:
            found.duplicates.append(record.ems_ref)
        found.records[record.ems_ref] = record
        found.words += [f"{record.ems_ref}: {f} {word!r}" for f, word, _ in record.words]

    def call(self, method: str, params: dict[str, Any], connection: Connection) -> Any:
        """``method`` on the long-lived process, started and configured on first use."""
        resident = self._resident
        if resident is None or not resident.alive():
            if resident is not None:
                resident.stop()
            resident = self._resident = self.process()
            resident.start()
            self.configure(resident, connection)
        return self.call_on(resident, method, params, timeout=self.settings.run_timeout)

    def close(self) -> None:
        if self._resident is not None:
            self._resident.stop()
            self._resident = None

    def _log(self, level: str, line: str) -> None:
        self.witness.see(f"a log line of {self._doing}", line)

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        self.witness.see_value(f"a {method} notification during {self._doing}", params)


def plugin_environment(
    target_dir: Path, manifest: Manifest, python: str | None, settings: Settings, state_dir: Path
) -> PluginEnvironment:
    """The plugin folder's environment, confined as the settings say, with a state folder."""
    environment = for_manifest(
        target_dir.resolve(),
        manifest.model_dump(mode="json", exclude_none=True),
        python=python,
        confinement=confinement_of(settings),
    )
    return replace(environment, state_dir=state_dir)
