"""The provider's connection parameters, checked once, with the operator's fix in each error.

The endpoint is the API host as an operator writes it: ``pve1.example.com``,
``pve1.example.com:8006`` or ``https://pve1.example.com:8006``. A ``port`` in
``connection_config`` wins over one in the endpoint, which wins over PVE's 8006.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from inventory_providers.base import ProviderCredential
from inventory_providers.errors import InvalidConfig

DEFAULT_PORT = 8006
DEFAULT_TIMEOUT = 15
KNOWN = frozenset({"token_name", "token_value", "verify_ssl", "nodes", "timeout"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the API is and how to log in to it."""

    host: str
    port: int
    user: str
    password: str | None
    token_name: str | None
    token_value: str | None
    verify_ssl: bool
    nodes: tuple[str, ...]
    timeout: int

    @property
    def url(self) -> str:
        """The API's address for messages (never with a credential)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @classmethod
    def read(
        cls, credential: ProviderCredential, public_config: Mapping[str, Any] | None
    ) -> Settings:
        """Check ``credential``; ``public_config`` tells whether ``port`` was given at all
        (the credential's port is 443 when it was not; without a provider record, 443
        counts as not given)."""
        host, endpoint_port = _split_endpoint(credential.hostname)
        extra = credential.extra
        port = credential.port if _port_given(credential, public_config) else endpoint_port
        if not 0 < port < 65536:
            raise InvalidConfig(f"connection_config.port: must be 1-65535, got {port}")
        user = (credential.username or "").strip()
        if not user:
            raise InvalidConfig("connection_config.username: required, as user@realm (root@pam)")
        if "@" not in user:
            raise InvalidConfig(
                f"connection_config.username: {user!r} names no realm; write it as "
                f"{user}@pam (Linux PAM) or {user}@pve (Proxmox VE users)"
            )
        token_name, token_value = _token(extra)
        password = credential.password or None
        if password is None and token_name is None:
            raise InvalidConfig(
                "connection_config: give a password, or token_name and token_value "
                "(an API token of the user)"
            )
        return cls(
            host=host,
            port=port,
            user=user,
            password=None if token_name else password,
            token_name=token_name,
            token_value=token_value,
            verify_ssl=_boolean(extra, "verify_ssl", default=True),
            nodes=_nodes(extra.get("nodes")),
            timeout=_timeout(extra.get("timeout")),
        )


def _port_given(credential: ProviderCredential, public_config: Mapping[str, Any] | None) -> bool:
    if public_config is None:
        return credential.port != 443  # ProviderCredential's default for "no port"
    value = public_config.get("port")
    return value is not None and value != ""


def _split_endpoint(endpoint: str | None) -> tuple[str, int]:
    text = (endpoint or "").strip()
    if not text:
        raise InvalidConfig("endpoint: required, the Proxmox VE host (pve1.example.com)")
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidConfig(f"endpoint: {text!r} is not a host name or an https:// address")
    try:
        port = parts.port
    except ValueError:
        raise InvalidConfig(f"endpoint: {text!r} has an invalid port") from None
    return parts.hostname, port or DEFAULT_PORT


def _token(extra: Mapping[str, Any]) -> tuple[str | None, str | None]:
    name = str(extra.get("token_name") or "").strip() or None
    value = str(extra.get("token_value") or "").strip() or None
    if name and "!" in name:  # the whole token id, user@realm!name, was pasted
        name = name.rsplit("!", 1)[1] or None
    if (name is None) != (value is None):
        missing = "token_value" if value is None else "token_name"
        raise InvalidConfig(f"connection_config.{missing}: required with the other token field")
    return name, value


def _boolean(extra: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = extra.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidConfig(f"connection_config.{name}: must be true or false, got {value!r}")


def _nodes(value: Any) -> tuple[str, ...]:
    if value is None or value == "" or value == []:
        return ()
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise InvalidConfig(f"connection_config.nodes: must be a list of node names, got {value!r}")
    return tuple(dict.fromkeys(item.strip() for item in value))


def _timeout(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidConfig(
            f"connection_config.timeout: must be a positive number of seconds, got {value!r}"
        )
    return max(1, round(value))
