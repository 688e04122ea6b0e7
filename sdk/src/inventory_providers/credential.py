"""``ProviderCredential``: what a provider needs to reach its platform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ProviderCredential"]


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
