"""``BaseProvider``: the class every provider plugin subclasses; its docstrings are the contract.

A plugin subclasses :class:`BaseProvider`, sets ``vendor``, ``provider_type`` and
``supported_resource_types``, and implements ``connect()``, ``collect()`` and
``disconnect()``. ``collect()`` yields one ``ResourceData`` per resource it finds;
it only fetches and maps: comparing, storing and deleting belong to the service.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from .actions import ActionSpec, check_params, declared_actions
from .credential import ProviderCredential
from .errors import InvalidParameter, NotFound, Unsupported
from .events import validate_event
from .profiles import PROFILES, check_action, missing_actions
from .resource import ResourceData

__all__ = ["STATE_DIR_VARIABLE", "BaseProvider"]

STATE_DIR_VARIABLE = "INVENTORY_PROVIDERS_STATE_DIR"
"""The environment variable naming :attr:`BaseProvider.state_dir` (set by the service)."""


class BaseProvider:
    """Base class of every provider plugin; its docstrings are the contract.

    Subclasses set the class attributes and implement :meth:`connect`,
    :meth:`collect` and :meth:`disconnect`. The service builds one instance per job
    with ``(provider_model, credential)`` and uses it as a context manager.
    """

    vendor: ClassVar[str] = ""
    provider_type: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    supported_resource_types: ClassVar[list[str]] = []

    _action_specs: ClassVar[dict[str, ActionSpec]] = {}

    target_resource_types: frozenset[str] | None = None
    """The resource types a *targeted* collection asks for, or None for a full one.

    Set by the service before ``connect()``; a plugin that can fetch only these types
    checks it in ``collect()`` and skips the others (saving the platform's time). One
    that ignores it is still correct: the service keeps only the targeted types from
    what it yields, and marks only resources of those types deleted.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the class's ``@action`` methods; a wrongly declared one fails here,
        when the plugin is loaded (``define``), naming the action and what is wrong."""
        super().__init_subclass__(**kwargs)
        specs = declared_actions(cls)
        for spec in specs.values():
            check_action(cls.__name__, spec)
            for name in filter(None, (spec.method, spec.available)):
                if not callable(getattr(cls, name, None)):
                    raise TypeError(
                        f"{cls.__name__}: action {spec.name!r} names no method {name!r}"
                    )
        cls._action_specs = specs

    def __init__(self, provider_model: Any, credential: ProviderCredential) -> None:
        """``provider_model`` describes the provider record (``id``, ``name``,
        ``endpoint``, ``connection_config`` without secrets); ``credential`` holds
        what is needed to log in."""
        self.provider_model = provider_model
        self.credential = credential
        self.logger = logging.getLogger(f"inventory_providers.plugin.{self.provider_key()}")
        self.published_events: list[dict[str, Any]] = []
        self.incomplete_parts: list[dict[str, str]] = []
        self._publisher: Callable[[dict[str, Any]], None] | None = None
        self._cancel_event: threading.Event | None = None

    @property
    def canceled(self) -> bool:
        """True once the service asked to cancel the call in progress.

        ``collect`` is stopped between two yielded resources without the plugin's
        help; a long step inside it (or in an action) may check this and return
        early. Under ``inventory_providers.testing`` it stays False.
        """
        event = getattr(self, "_cancel_event", None)
        return event is not None and event.is_set()

    @property
    def state_dir(self) -> Path | None:
        """A folder that outlives this process, or None (without the service).

        The service gives every provider one folder that all of its plugin processes
        (the collection's, the actions') may write, kept until the provider is deleted:
        for what a plugin must remember between calls. Write a file by renaming a new
        one over it (``os.replace``): two processes may run as two users of one group.
        """
        folder = os.environ.get(STATE_DIR_VARIABLE)
        return Path(folder) if folder else None

    def connect(self) -> None:
        """Open the session to the platform. Raise an ``inventory_providers.errors``
        error (``Unauthenticated``, ``Unreachable``, …) when it cannot."""
        raise NotImplementedError

    def collect(self) -> Iterator[ResourceData]:
        """Yield one :class:`ResourceData` per resource found. Called after ``connect``."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """Close the session. Called even when ``collect`` failed."""
        raise NotImplementedError

    def validate_connection(self) -> tuple[bool, str]:
        """Check that the platform can be reached with the credential.

        The default connects and disconnects; override for a cheaper check.
        Returns ``(ok, message)``.
        """
        try:
            self.connect()
        except Exception as exc:  # any failure is the answer, not a crash
            return False, f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(NotImplementedError):
            self.disconnect()
        return True, "connected"

    def run_action(self, name: str, ems_ref: str | None, params: dict[str, Any]) -> Any:
        """Run the lifecycle action ``name`` (``power_on``, ``snapshot_create``, …).

        ``ems_ref`` is the resource it acts on, or None for a provider-level action;
        ``params`` are its arguments. The default dispatches to the method declared with
        ``@action`` (``inventory_providers.actions``), its parameters checked and their
        defaults filled in; an undeclared action raises ``Unsupported``. A plugin written
        before the decorator may override this instead. Return anything JSON
        serialisable (shown to the caller); raise an ``inventory_providers.errors`` error
        to fail it (``NotFound`` for an unknown ``ems_ref``). A long action may check
        :attr:`canceled`. It runs in the provider's long-lived process, where ``connect``
        has not been called: open (and close) the session the action needs itself.
        """
        spec = type(self).action_specs().get(name)
        if spec is None:
            raise Unsupported(f"{self.provider_key()} has no action {name!r}")
        if spec.is_provider_level and ems_ref is not None:
            raise InvalidParameter(f"{name}: acts on the provider, not on a resource")
        if not spec.is_provider_level and ems_ref is None:
            raise NotFound(f"{name}: needs a resource (ems_ref)")
        try:
            checked = check_params(spec.params, params)
        except ValueError as exc:
            raise InvalidParameter(f"{name}: {exc}") from None
        return getattr(self, spec.method)(ems_ref, checked)

    def action_availability(self, name: str, resource: dict[str, Any] | None) -> tuple[bool, str]:
        """``(available, reason)`` of the action on ``resource`` (its stored record) now."""
        spec = type(self).action_specs()[name]
        if spec.available is None:
            return True, ""
        available, reason = getattr(self, spec.available)(resource)
        return bool(available), str(reason or "")

    @classmethod
    def action_specs(cls) -> dict[str, ActionSpec]:
        """The actions the class declares with ``@action``, by name."""
        return dict(getattr(cls, "_action_specs", {}))

    @classmethod
    def implemented_profiles(cls) -> list[str]:
        """The standard profiles whose required actions the class all declares."""
        specs = cls.action_specs().values()
        profiles = []
        for name, profile in PROFILES.items():
            mine = [spec.name for spec in specs if spec.profile == name]
            if mine and not missing_actions(name, mine):
                profiles.append(profile.name)
        return profiles

    def publish_event(
        self, event_type: str, message: str = "", *, severity: str = "info", **data: Any
    ) -> None:
        """Tell the service that something happened (seed 001's *publish*).

        ``event_type`` names what happened, e.g. ``"power.changed"`` (letters, digits
        and ``_ . : / -``, at most 100 characters); ``message`` is the line shown to
        operators (at most 10,000 characters); ``severity`` is one of ``debug``,
        ``info``, ``warning``, ``error``, ``critical``; any other keyword becomes the
        event's ``data`` (JSON serialisable, at most 64 KB)::

            self.publish_event("snapshot.created", f"snapshot of {vm}", vm=vm, size_gb=4)

        Under the service the event is stored with the provider and the run in flight
        and listed at ``GET /api/inventory/v1/events/``. Without the service (in tests,
        ``inventory_providers.testing``) it is appended to ``self.published_events``.
        Raises ``ValueError`` naming the bad argument. Never put a secret in an event.
        """
        event = validate_event(
            {
                "type": event_type,
                "message": message,
                "severity": severity,
                "data": data,
                "time": time.time(),
            }
        )
        publisher = getattr(self, "_publisher", None)
        if publisher is not None:
            publisher(event)
            return
        if not hasattr(self, "published_events"):  # a subclass skipped super().__init__
            self.published_events = []
        self.published_events.append(event)

    def report_incomplete(self, part: str, error: BaseException | str) -> None:
        """Say that ``part`` of the platform could not be read while the rest could.

        Call it from ``collect`` when one region, one API, one node or one datacenter
        fails and the others are still worth collecting: go on with them. The run then
        ends ``partial`` with ``part`` and the error in its message and log, what was
        collected is stored, and nothing is marked deleted in that run (the resources of
        the failed part were not seen, which says nothing about whether they still
        exist)::

            try:
                yield from self._instances(region)
            except ClientError as exc:
                self.report_incomplete(f"region {region}", exc)

        ``part`` names the part as an operator knows it (at most 200 characters). Never
        put a secret in ``error``: the service masks the provider's own secrets, not
        others.
        """
        if not isinstance(part, str) or not part.strip():
            raise ValueError("report_incomplete: part must be a non-empty string")
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            text = str(error)
        entry = {"part": part.strip()[:200], "error": text[:2000]}
        if not hasattr(self, "incomplete_parts"):  # a subclass skipped super().__init__
            self.incomplete_parts = []
        self.incomplete_parts.append(entry)
        logging.getLogger(f"inventory_providers.plugin.{self.provider_key()}").warning(
            "could not read %s: %s; the run ends partial and deletes nothing",
            entry["part"],
            entry["error"],
        )

    @classmethod
    def handle_api_request(cls, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a request to the plugin's API routes (seed 001's ``/plugin-apis``).

        Only called when ``manifest.yml`` declares ``api: {routes: true}``. A request to
        ``/api/inventory/v1/plugin-apis/<vendor:type>/<path>`` reaches this class method
        (no provider is configured, so there is no ``self``) as a dict: ``method``
        (``"GET"``, ``"POST"``, …), ``path`` (the part after the plugin key, starting
        with ``/``), ``query`` (name → value; a list when the name repeats),
        ``headers`` (lower-case names; never ``authorization`` or ``cookie``) and
        ``body`` (``bytes``). Return ``{"status": 200, "headers": {...}, "json": ...}``
        for a JSON answer or ``{"status": ..., "headers": {...}, "body": bytes | str}``.
        Raise an ``inventory_providers.errors`` error to fail the request (the caller
        gets 502 with the message). The default raises ``NotImplementedError``, which
        the caller sees as 501.
        """
        raise NotImplementedError(f"{cls.provider_key()} does not serve API routes")

    def __enter__(self) -> BaseProvider:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(NotImplementedError):
            self.disconnect()

    @classmethod
    def provider_key(cls) -> str:
        """The registry key, ``"vendor:provider_type"``."""
        return f"{cls.vendor}:{cls.provider_type}"

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        """What the registry shows about this class."""
        return {
            "key": cls.provider_key(),
            "vendor": cls.vendor,
            "provider_type": cls.provider_type,
            "display_name": cls.display_name or cls.__name__,
            "supported_resource_types": list(cls.supported_resource_types),
            "class_name": cls.__name__,
            "actions": [spec.to_dict() for spec in cls.action_specs().values()],
            "profiles": cls.implemented_profiles(),
        }
