"""The provider's connection parameters, checked once, with the operator's fix in each error.

The endpoint is the BMC's host name or address, optionally with its UDP port
(``10.0.0.5``, ``bmc01.example.com:623``, ``[fd00::5]:623``); a ``port`` in
``connection_config`` wins over one in the endpoint, which wins over IPMI's 623.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from inventory_providers.base import ProviderCredential
from inventory_providers.errors import InvalidConfig

DEFAULT_PORT = 623
DEFAULT_TIMEOUT = 10
KNOWN = frozenset({"timeout", "sensors", "verify_ssl"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the BMC is and how to log in to it."""

    host: str
    port: int
    username: str
    password: str
    timeout: int
    sensors: bool

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def read(
        cls, credential: ProviderCredential, public_config: Mapping[str, Any] | None
    ) -> Settings:
        """Check ``credential``; ``public_config`` tells whether ``port`` was given at all
        (the credential's port is 443 when it was not; without a provider record, 443
        counts as not given)."""
        host, endpoint_port = _split_endpoint(credential.hostname)
        port = credential.port if _port_given(credential, public_config) else endpoint_port
        if not 0 < port < 65536:
            raise InvalidConfig(f"connection_config.port: must be 1-65535, got {port}")
        if not credential.password:
            raise InvalidConfig("connection_config.password: required, the BMC user's password")
        extra = credential.extra
        return cls(
            host=host,
            port=port,
            username=credential.username or "",
            password=credential.password,
            timeout=_timeout(extra.get("timeout")),
            sensors=_boolean(extra.get("sensors"), "sensors", default=True),
        )


def _port_given(credential: ProviderCredential, public_config: Mapping[str, Any] | None) -> bool:
    if public_config is None:
        return credential.port != 443  # ProviderCredential's default for "no port"
    value = public_config.get("port")
    return value is not None and value != ""


def _split_endpoint(endpoint: str | None) -> tuple[str, int]:
    text = (endpoint or "").strip()
    if not text:
        raise InvalidConfig("endpoint: required, the BMC's host name or address")
    parts = urlsplit(text if "://" in text else f"ipmi://{text}")
    if parts.scheme not in ("ipmi", "udp") or not parts.hostname or parts.path not in ("", "/"):
        raise InvalidConfig(f"endpoint: {text!r} is not a BMC host name or address")
    try:
        port = parts.port
    except ValueError:
        raise InvalidConfig(f"endpoint: {text!r} has an invalid port") from None
    return parts.hostname, port or DEFAULT_PORT


def _timeout(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidConfig(
            f"connection_config.timeout: must be a positive number of seconds, got {value!r}"
        )
    return max(1, round(value))


def _boolean(value: Any, name: str, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    raise InvalidConfig(f"connection_config.{name}: must be true or false, got {value!r}")
