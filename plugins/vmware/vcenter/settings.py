"""The provider's connection settings, read from seed 000's payload and checked once.

Seed 000 creates a vCenter provider with ``endpoint`` (the host) and a
``connection_config`` of ``username``, ``password``, ``port`` and ``verify_ssl``; the
optional ``timeout``, ``page_size`` and ``datacenters`` are this plugin's own. Every
bad value is refused before a byte goes on the wire, with a message naming the
parameter, so an operator fixes the provider rather than reading a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from inventory_providers.base import ProviderCredential
from inventory_providers.errors import InvalidConfig

KNOWN_EXTRA = frozenset({"verify_ssl", "timeout", "page_size", "datacenters"})
DEFAULT_PORT = 443
DEFAULT_TIMEOUT = 30.0
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the vCenter is, who logs in, and how the plugin talks to it."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    verify_ssl: bool = True
    timeout: float = DEFAULT_TIMEOUT
    page_size: int = DEFAULT_PAGE_SIZE
    datacenters: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``host:port`` as operators write it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_credential(cls, credential: ProviderCredential) -> Settings:
        """Check the credential the service built; raise ``InvalidConfig`` naming the
        parameter that is wrong."""
        extra = credential.extra
        host, endpoint_port = _host_and_port(credential.hostname)
        port = _port(credential.port, endpoint_port)
        if not credential.username:
            raise InvalidConfig("connection_config.username: is required (a vCenter user)")
        if not credential.password:
            raise InvalidConfig("connection_config.password: is required")
        return cls(
            host=host,
            port=port,
            username=str(credential.username),
            password=str(credential.password),
            verify_ssl=_boolean(extra, "verify_ssl", default=True),
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, low=1, high=600),
            page_size=int(
                _number(extra, "page_size", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
            ),
            datacenters=_names(extra, "datacenters"),
        )


def _host_and_port(endpoint: str | None) -> tuple[str, int | None]:
    """The host (and a port, if the endpoint names one) of ``vcsa01.lab.local``,
    ``vcsa01.lab.local:8443`` or ``https://vcsa01.lab.local/sdk``."""
    text = (endpoint or "").strip()
    if not text:
        raise InvalidConfig("endpoint: is required (the vCenter host, e.g. vcsa01.lab.local)")
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidConfig(f"endpoint: {endpoint!r} is not a host name or URL ({exc})") from None
    if parts.scheme != "https":
        raise InvalidConfig(f"endpoint: vCenter speaks HTTPS only, got {parts.scheme}://")
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise InvalidConfig(
            f"endpoint: {endpoint!r} must be a host name or URL without credentials "
            "(put them in username and password)"
        )
    return host, port


def _port(configured: Any, from_endpoint: int | None) -> int:
    if isinstance(configured, bool) or not isinstance(configured, int):
        raise InvalidConfig(f"connection_config.port: must be an integer, got {configured!r}")
    if from_endpoint is not None and configured not in (DEFAULT_PORT, from_endpoint):
        raise InvalidConfig(
            f"connection_config.port: {configured} differs from the endpoint's port "
            f"{from_endpoint}; give the port in one place"
        )
    port = from_endpoint if from_endpoint is not None else configured
    if not 1 <= port <= 65535:
        raise InvalidConfig(f"connection_config.port: must be between 1 and 65535, got {port}")
    return port


def _boolean(extra: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = extra.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidConfig(f"connection_config.{name}: must be true or false, got {value!r}")


def _number(
    extra: Mapping[str, Any], name: str, default: float, *, low: float, high: float
) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not low <= number <= high:  # also refuses nan
        raise InvalidConfig(
            f"connection_config.{name}: must be a number from {low:g} to {high:g}, got {value!r}"
        )
    return number


def _names(extra: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = extra.get(name)
    if value is None or value == "" or value == []:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidConfig(
            f"connection_config.{name}: must be a list of datacenter names, got {value!r}"
        )
    names = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not names:
        raise InvalidConfig(f"connection_config.{name}: names no datacenter")
    return names
