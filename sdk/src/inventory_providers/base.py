"""The plugin contract: ``BaseProvider``, ``ProviderCredential``, ``ResourceData``.

A plugin subclasses :class:`BaseProvider`, sets ``vendor``, ``provider_type`` and
``supported_resource_types``, and implements ``connect()``, ``collect()`` and
``disconnect()``. ``collect()`` yields one :class:`ResourceData` per resource it finds;
it only fetches and maps: comparing, storing and deleting belong to the service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, ClassVar

from .errors import Unsupported

__all__ = [
    "EVENT_SEVERITIES",
    "RELATIONSHIP_TYPES",
    "STATES",
    "BaseProvider",
    "ProviderCredential",
    "Relationship",
    "ResourceData",
    "ResourceValidationError",
    "validate_event",
    "validate_record",
]

STATES = frozenset(
    {
        "active",
        "inactive",
        "running",
        "stopped",
        "suspended",
        "provisioning",
        "terminated",
        "decommissioned",
        "error",
        "unknown",
    }
)

RELATIONSHIP_TYPES = frozenset(
    {
        "runs_on",
        "part_of",
        "member_of",
        "attached_to",
        "connected_to",
        "managed_by",
        "contains",
        "depends_on",
        "load_balances",
        "routes_to",
        "backs_up",
        "replicates_to",
    }
)

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")

EVENT_SEVERITIES = ("debug", "info", "warning", "error", "critical")
"""The severities an event may have, least severe first."""

MAX_EVENT_TYPE_CHARS = 100
MAX_EVENT_MESSAGE_CHARS = 10_000
MAX_EVENT_DATA_BYTES = 64 * 1024
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_EVENT_KEYS = frozenset({"type", "message", "severity", "data", "time"})


class ResourceValidationError(ValueError):
    """A ``ResourceData`` or ``Relationship`` value is wrong; ``field`` names where."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(slots=True)
class ProviderCredential:
    """What a provider needs to reach its platform.

    ``hostname`` is the provider's ``endpoint``; ``username``, ``password`` and ``port``
    come from its ``connection_config``; every other ``connection_config`` key is in
    ``extra``.
    """

    username: str | None = None
    password: str | None = None
    hostname: str | None = None
    port: int = 443
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, endpoint: str | None, config: Mapping[str, Any]) -> ProviderCredential:
        """The credential the service builds from a provider's endpoint and config."""
        extra = {k: v for k, v in config.items() if k not in ("username", "password", "port")}
        port = config.get("port")
        return cls(
            username=config.get("username"),
            password=config.get("password"),
            hostname=endpoint,
            port=int(port) if port is not None else 443,
            extra=extra,
        )

    def __repr__(self) -> str:
        # The password must never reach a log line or a traceback.
        shown = "'***'" if self.password else "None"
        return (
            f"ProviderCredential(username={self.username!r}, password={shown}, "
            f"hostname={self.hostname!r}, port={self.port!r}, extra=<{len(self.extra)} keys>)"
        )


@dataclass(slots=True)
class Relationship:
    """An edge from the resource that carries it to another resource of the same provider.

    ``ResourceData.relationships`` accepts these or plain dicts with the same two keys,
    and keeps them as dicts.
    """

    target_ems_ref: str
    relationship_type: str

    def __post_init__(self) -> None:
        _check_relationship(self.target_ems_ref, self.relationship_type, "")

    def to_dict(self) -> dict[str, str]:
        return {"target_ems_ref": self.target_ems_ref, "relationship_type": self.relationship_type}


def _check_relationship(target: Any, kind: Any, where: str) -> None:
    if type(target) is not str or not target:
        raise ResourceValidationError(f"{where}target_ems_ref", "must be a non-empty string")
    if kind not in RELATIONSHIP_TYPES:
        raise ResourceValidationError(
            f"{where}relationship_type",
            f"unknown type {kind!r}; expected one of {', '.join(sorted(RELATIONSHIP_TYPES))}",
        )


# -- field checks: each takes (name, value) and returns the value to keep, or raises --


def _required_str(name: str, value: Any) -> str:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise ResourceValidationError(name, f"must be a non-empty string, got {value!r}")


def _slug(name: str, value: Any) -> str:
    if type(value) is str and _SLUG.match(value):
        return value
    raise ResourceValidationError(
        name, f"must be a lowercase slug like 'virtual_machine', got {value!r}"
    )


def _state(name: str, value: Any) -> str:
    if value in STATES:
        return str(value)
    raise ResourceValidationError(
        name, f"unknown state {value!r}; expected one of {', '.join(sorted(STATES))}"
    )


def _opt_str(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    raise ResourceValidationError(name, f"must be a string, got {type(value).__name__}")


def _count(name: str, value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    raise ResourceValidationError(name, f"must be a non-negative integer, got {value!r}")


def _size(name: str, value: Any) -> float:
    if type(value) in (int, float) and value >= 0:
        return value  # type: ignore[no-any-return]
    raise ResourceValidationError(name, f"must be a non-negative number, got {value!r}")


def _time(name: str, value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise ResourceValidationError(name, "must be a datetime or an ISO 8601 string")


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise ResourceValidationError(name, f"must be a dict, got {type(value).__name__}")


def _strings(name: str, value: Any) -> list[str]:
    if type(value) is not list:
        if not isinstance(value, tuple | set | frozenset):
            raise ResourceValidationError(name, f"must be a list of strings, got {value!r}")
        value = list(value)
    for item in value:
        if type(item) is not str:
            raise ResourceValidationError(name, f"must hold strings, got {item!r}")
    return value  # type: ignore[no-any-return]


def _relationships(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise ResourceValidationError(name, f"must be a list, got {type(value).__name__}")
    out = []
    for index, item in enumerate(value):
        if type(item) is Relationship:  # checked when it was built
            out.append(
                {"target_ems_ref": item.target_ems_ref, "relationship_type": item.relationship_type}
            )
            continue
        where = f"{name}[{index}]."
        if isinstance(item, Relationship):
            out.append(item.to_dict())
            continue
        if type(item) is not dict:
            raise ResourceValidationError(f"{name}[{index}]", f"must be an object, got {item!r}")
        if len(item) != 2 or "target_ems_ref" not in item or "relationship_type" not in item:
            extra = sorted(set(item) - {"target_ems_ref", "relationship_type"})
            problem = (
                f"unknown key {extra[0]!r}"
                if extra
                else "needs target_ems_ref and relationship_type"
            )
            raise ResourceValidationError(f"{name}[{index}]", problem)
        _check_relationship(item["target_ems_ref"], item["relationship_type"], where)
        out.append(item)
    return out


_CHECKS: dict[str, Any] = {
    "ems_ref": _required_str,
    "resource_type_slug": _slug,
    "state": _state,
    "cpu_count": _count,
    "memory_mb": _count,
    "disk_gb": _size,
    "boot_time": _time,
    "ems_created_on": _time,
    "vendor_identifiers": _mapping,
    "properties": _mapping,
    "provider_tags": _mapping,
    "metrics": _mapping,
    "ip_addresses": _strings,
    "mac_addresses": _strings,
    "relationships": _relationships,
}
for _name in (
    "name",
    "description",
    "canonical_id",
    "vendor_type",
    "power_state",
    "region",
    "availability_zone",
    "cloud_tenant",
    "flavor",
    "fqdn",
    "os_type",
    "os_name",
    "ansible_host",
    "ansible_connection",
    "inventory_group",
):
    _CHECKS[_name] = _opt_str


def validate_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check one resource in its wire form (a dict of ``ResourceData`` fields).

    Returns a normalised copy without unset values (``None``, empty strings, lists
    and dicts); raises :class:`ResourceValidationError` naming the first bad field.
    The service checks every record a plugin sends with this function.
    """
    if not isinstance(data, Mapping):
        raise ResourceValidationError("resource", f"must be an object, got {type(data).__name__}")
    out: dict[str, Any] = {}
    checks = _CHECKS
    for name, value in data.items():
        check = checks.get(name)
        if check is None:
            raise ResourceValidationError(str(name), "unknown field")
        if value is None:
            continue
        value = check(name, value)
        if value or value == 0:
            out[name] = value
    if "ems_ref" not in out:
        raise ResourceValidationError("ems_ref", "is required")
    if "resource_type_slug" not in out:
        raise ResourceValidationError("resource_type_slug", "is required")
    return out


def validate_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Check one event in its wire form: ``{"type", "message", "severity", "data", "time"}``.

    ``type`` is required: a name of at most 100 characters made of letters, digits and
    ``_ . : / -``, starting with a letter or digit (``"power.changed"``). ``severity`` is
    one of :data:`EVENT_SEVERITIES` (default ``"info"``); ``message`` a string of at most
    10,000 characters; ``data`` a JSON object of at most 64 KB; ``time`` Unix seconds.
    Returns a normalised copy; raises ``ValueError`` naming the first bad field. The
    service checks every event a plugin sends with this function.
    """
    if not isinstance(event, Mapping):
        raise ValueError(f"event: must be an object, got {type(event).__name__}")
    unknown = sorted(str(key) for key in event if key not in _EVENT_KEYS)
    if unknown:
        raise ValueError(f"event {unknown[0]}: unknown field")
    kind = event.get("type")
    if type(kind) is not str or not _EVENT_TYPE.match(kind) or len(kind) > MAX_EVENT_TYPE_CHARS:
        raise ValueError(
            f"event type: must be a name of 1 to {MAX_EVENT_TYPE_CHARS} letters, digits and "
            f"'_.:/-' like 'power.changed', got {kind!r:.120}"
        )
    severity = event.get("severity", "info")
    if severity not in EVENT_SEVERITIES:
        raise ValueError(
            f"event severity: must be one of {', '.join(EVENT_SEVERITIES)}, got {severity!r:.120}"
        )
    message = event.get("message", "")
    if type(message) is not str:
        raise ValueError(f"event message: must be a string, got {type(message).__name__}")
    if len(message) > MAX_EVENT_MESSAGE_CHARS:
        raise ValueError(
            f"event message: {len(message)} characters, over the {MAX_EVENT_MESSAGE_CHARS} limit"
        )
    data = event.get("data", {})
    if not isinstance(data, Mapping):
        raise ValueError(f"event data: must be an object, got {type(data).__name__}")
    try:
        size = len(json.dumps(data, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event data: must be JSON serialisable ({exc})") from None
    if size > MAX_EVENT_DATA_BYTES:
        raise ValueError(f"event data: {size} bytes as JSON, over the 64 KB limit")
    out: dict[str, Any] = {
        "type": kind,
        "message": message,
        "severity": severity,
        "data": dict(data),
    }
    moment = event.get("time")
    if moment is not None:
        if type(moment) not in (int, float) or not math.isfinite(moment):
            raise ValueError(f"event time: must be Unix seconds, got {moment!r:.120}")
        out["time"] = moment
    return out


@dataclass(slots=True)
class ResourceData:
    """One resource as a plugin found it, normalised.

    Bad values are refused when the object is built, with a
    :class:`ResourceValidationError` naming the field.
    """

    ems_ref: str
    resource_type_slug: str
    name: str | None = None
    description: str | None = None
    canonical_id: str | None = None
    vendor_identifiers: dict[str, Any] = field(default_factory=dict)
    vendor_type: str | None = None
    state: str = "unknown"
    power_state: str | None = None
    boot_time: datetime | str | None = None
    region: str | None = None
    availability_zone: str | None = None
    cloud_tenant: str | None = None
    flavor: str | None = None
    cpu_count: int | None = None
    memory_mb: int | None = None
    disk_gb: float | None = None
    ip_addresses: list[str] = field(default_factory=list)
    fqdn: str | None = None
    mac_addresses: list[str] = field(default_factory=list)
    os_type: str | None = None
    os_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    provider_tags: dict[str, Any] = field(default_factory=dict)
    ansible_host: str | None = None
    ansible_connection: str | None = None
    inventory_group: str | None = None
    ems_created_on: datetime | str | None = None
    relationships: list[Relationship | dict[str, str]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[frozenset[str]]

    def __post_init__(self) -> None:
        values = _get_all(self)
        signature = tuple(map(type, values))
        if signature not in _CHECKED_SIGNATURES:
            self._check_each(values)
            values = _get_all(self)
            _remember(tuple(map(type, values)))
        # The types are known good; what is left are the checks of values.
        if not values[0]:
            raise ResourceValidationError("ems_ref", "must be a non-empty string, got ''")
        if values[1] not in _CHECKED_SLUGS:
            _slug("resource_type_slug", values[1])
            if len(_CHECKED_SLUGS) < 1024:
                _CHECKED_SLUGS.add(values[1])
        if values[_STATE] not in STATES:
            _state("state", values[_STATE])
        for index in _NUMBERS:
            number = values[index]
            if number is not None and number < 0:
                _CHECKS[_NAMES[index]](_NAMES[index], number)
        for index in _LISTS:
            items = values[index]
            if items and not set(map(type, items)) <= _ONLY_STR:
                _strings(_NAMES[index], items)
        if values[_RELATIONSHIPS]:
            self.relationships = _relationships("relationships", values[_RELATIONSHIPS])  # type: ignore[assignment]

    def _check_each(self, values: tuple[Any, ...]) -> None:
        checks = _CHECKS
        for name, value in zip(_NAMES, values, strict=True):
            if value is None:
                if name in _REQUIRED:
                    raise ResourceValidationError(name, "is required")
                continue
            checked = checks[name](name, value)
            if checked is not value:
                object.__setattr__(self, name, checked)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: every field that is set (not None, not empty; 0 is set)."""
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceData:
        """Build from the wire form, refusing unknown fields by name."""
        return cls(**validate_record(data))


_NAMES = tuple(f.name for f in fields(ResourceData))


def _compile_to_dict() -> Callable[[ResourceData], dict[str, Any]]:
    """``to_dict`` unrolled over the fields: half the time of a loop over them, and it
    runs once per resource in every collection."""
    lines = ["def to_dict(self):", "    out = {}"]
    for name in _NAMES:
        lines.append(f"    value = self.{name}")
        lines.append(f"    if value or (value == 0 and value is not None): out[{name!r}] = value")
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)
    function: Callable[[ResourceData], dict[str, Any]] = namespace["to_dict"]
    return function


_to_dict = _compile_to_dict()
_REQUIRED = frozenset({"ems_ref", "resource_type_slug", "state"})
_get_all = attrgetter(*_NAMES)
ResourceData.FIELDS = frozenset(_NAMES)

# The fast path of ResourceData.__post_init__: a tuple of field types that passed the
# full check once is known good, and only value checks remain for later objects.
_NONE = type(None)
_ALLOWED_TYPES: dict[str, frozenset[type]] = {
    name: frozenset({str, _NONE})
    if check in (_opt_str, _time)
    else frozenset({int, _NONE})
    if check is _count
    else frozenset({int, float, _NONE})
    if check is _size
    else frozenset({dict})
    if check is _mapping
    else frozenset({list})
    if check in (_strings, _relationships)
    else frozenset({str})
    for name, check in _CHECKS.items()
}
_CHECKED_SIGNATURES: set[tuple[type, ...]] = set()
_CHECKED_SLUGS: set[str] = set()
_ONLY_STR = frozenset({str})
_STATE = _NAMES.index("state")
_RELATIONSHIPS = _NAMES.index("relationships")
_NUMBERS = tuple(_NAMES.index(n) for n in ("cpu_count", "memory_mb", "disk_gb"))
_LISTS = tuple(_NAMES.index(n) for n in ("ip_addresses", "mac_addresses"))


def _remember(signature: tuple[type, ...]) -> None:
    if len(_CHECKED_SIGNATURES) >= 4096:
        return
    if all(kind in _ALLOWED_TYPES[name] for name, kind in zip(_NAMES, signature, strict=True)):
        _CHECKED_SIGNATURES.add(signature)


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

    def __init__(self, provider_model: Any, credential: ProviderCredential) -> None:
        """``provider_model`` describes the provider record (``id``, ``name``,
        ``endpoint``, ``connection_config`` without secrets); ``credential`` holds
        what is needed to log in."""
        self.provider_model = provider_model
        self.credential = credential
        self.logger = logging.getLogger(f"inventory_providers.plugin.{self.provider_key()}")
        self.published_events: list[dict[str, Any]] = []
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
        """Run the lifecycle action ``name`` (``power_on``, ``snapshot``, …).

        ``ems_ref`` is the resource it acts on, or None for a provider-level action;
        ``params`` are its arguments. Return anything JSON serialisable (shown to the
        caller); raise an ``inventory_providers.errors`` error to fail it. A long action
        may check :attr:`canceled`. The default raises ``Unsupported``. It runs in the
        provider's long-lived process, where ``connect`` has not been called: open
        (and close) the session the action needs itself.
        """
        raise Unsupported(f"{self.provider_key()} has no action {name!r}")

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
        }
