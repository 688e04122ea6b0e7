"""Run a provider in-process, without the service, the way httpx ships ``MockTransport``.

from inventory_providers.testing import run_provider
resources = run_provider(MyProvider, endpoint="host", connection_config={...})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

from .credential import ProviderCredential
from .provider import BaseProvider
from .resource import ResourceData, _begin_run

__all__ = ["FakeProvider", "make_provider", "run_provider"]


def make_provider(
    provider_cls: type[BaseProvider],
    *,
    endpoint: str | None = None,
    connection_config: Mapping[str, Any] | None = None,
    name: str = "test",
) -> BaseProvider:
    """An instance built exactly as the service builds one for a job."""
    config = dict(connection_config or {})
    credential = ProviderCredential.from_config(endpoint, config)
    public = {k: v for k, v in config.items() if k != "password"}
    model = SimpleNamespace(
        id=0,
        name=name,
        vendor=provider_cls.vendor,
        provider_type=provider_cls.provider_type,
        endpoint=endpoint,
        connection_config=public,
    )
    return provider_cls(model, credential)


def run_provider(
    provider_cls: type[BaseProvider],
    *,
    endpoint: str | None = None,
    connection_config: Mapping[str, Any] | None = None,
) -> list[ResourceData]:
    """``connect()``, every ``collect()`` result as a list, then ``disconnect()``."""
    provider = make_provider(provider_cls, endpoint=endpoint, connection_config=connection_config)
    _begin_run(under_service=False)  # a run warns once per word outside the vocabularies
    with provider:
        return list(provider.collect())


class FakeProvider(BaseProvider):
    """A provider that yields the resources it was given; for tests of code around plugins."""

    vendor = "fake"
    provider_type = "fake"
    display_name = "Fake provider"
    supported_resource_types = ["virtual_machine", "hypervisor_host"]

    def __init__(
        self,
        provider_model: Any = None,
        credential: ProviderCredential | None = None,
        resources: Iterable[ResourceData] = (),
    ) -> None:
        super().__init__(provider_model, credential or ProviderCredential())
        self.resources = list(resources)
        self.is_connected = False

    def connect(self) -> None:
        self.is_connected = True

    def disconnect(self) -> None:
        self.is_connected = False

    def collect(self) -> Iterator[ResourceData]:
        yield from self.resources
