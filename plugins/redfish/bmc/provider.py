"""Redfish BMC: the servers a Redfish service manages, and the managers (BMCs) themselves.

Resource type mapping (the Redfish resources they come from):
    ComputerSystem  /redfish/v1/Systems/{id}    bare_metal   (managed_by its Manager)
    Manager         /redfish/v1/Managers/{id}   bmc

One endpoint may be a single server's BMC (iDRAC, iLO, XClarity, OpenBMC: one system,
one manager) or an aggregator serving many (a chassis manager, sushy-tools): every
member of the Systems and Managers collections is read, page after page, a few at a
time in parallel (``concurrency``), with plain HTTP GETs and basic auth. The actions
(``actions.py``) POST resets and PATCH the boot override of one system.

A member that answers with an error while the others answer (HTTP 500 for one
system) is named with ``report_incomplete``: the run ends partial and deletes nothing.
A member listed and gone by the time it is read (HTTP 404) is simply not there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from inventory_providers.base import BaseProvider, ProviderCredential, ResourceData
from inventory_providers.errors import InvalidConfig, ProviderError

from .actions import SystemActions
from .client import SERVICE_ROOT, RedfishClient, RedfishError, base_url
from .mapping import manager_resource, system_resource

DEFAULT_TIMEOUT = 20.0
DEFAULT_CONCURRENCY = 4
_KNOWN = frozenset({"timeout", "verify_ssl", "concurrency"})
Mapper = Callable[[Mapping[str, Any], Mapping[str, Any]], ResourceData]


@dataclass(frozen=True, slots=True)
class Settings:
    """The provider's endpoint and ``connection_config``, checked."""

    url: str
    username: str | None
    password: str | None
    verify: bool
    timeout: float
    concurrency: int

    @classmethod
    def from_credential(cls, credential: ProviderCredential) -> Settings:
        extra: Mapping[str, Any] = credential.extra
        verify = extra.get("verify_ssl", True)
        if not isinstance(verify, bool):
            raise InvalidConfig(
                f"connection_config.verify_ssl: must be true or false, got {verify!r}"
            )
        return cls(
            url=base_url(credential.hostname, credential.port),
            username=credential.username or None,
            password=credential.password or None,
            verify=verify,
            timeout=_number(extra, "timeout", DEFAULT_TIMEOUT, 1, 600),
            concurrency=int(_number(extra, "concurrency", DEFAULT_CONCURRENCY, 1, 32)),
        )


def _number(extra: Mapping[str, Any], name: str, default: float, low: int, high: int) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = low - 1.0
    if isinstance(value, bool) or not low <= number <= high:
        raise InvalidConfig(
            f"connection_config.{name}: must be a number between {low} and {high}, got {value!r}"
        )
    return number


class RedfishBmcProvider(SystemActions, BaseProvider):
    """The ComputerSystems and Managers of one Redfish service; the systems' power and
    boot actions are in ``actions.py``."""

    vendor = "redfish"
    provider_type = "bmc"
    display_name = "Redfish BMC"
    supported_resource_types = ["bare_metal", "bmc"]

    settings: Settings | None = None
    client: RedfishClient | None = None
    service: dict[str, Any] | None = None
    systems_page: dict[str, Any] | None = None
    systems_error: RedfishError | None = None

    def connect(self) -> None:
        """Read the service root (public), then the Systems collection (authenticated:
        a wrong password fails here, not half-way through a collection)."""
        settings = Settings.from_credential(self.credential)
        for name in sorted(set(self.credential.extra) - _KNOWN):
            self.logger.warning("ignoring unknown connection parameter %r", name)
        self.settings = settings
        self.client = RedfishClient(
            settings.url,
            settings.username,
            settings.password,
            verify=settings.verify,
            timeout=settings.timeout,
        )
        try:
            self.service = self._service_root(self.client)
            self.systems_page, self.systems_error = self._first_systems_page(self.client)
        except ProviderError:
            self.disconnect()
            raise

    def _first_systems_page(
        self, client: RedfishClient
    ) -> tuple[dict[str, Any] | None, RedfishError | None]:
        """The Systems collection's first page: the first read that needs the login.

        A refused login raises; any other HTTP error is a problem of that collection,
        which ``collect`` reads again and names if it fails again.
        """
        systems = _link(self.service or {}, "Systems")
        if systems is None:
            return None, None
        try:
            return client.get(systems), None
        except RedfishError as exc:
            return None, exc

    def disconnect(self) -> None:
        """Close the HTTP connections."""
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def validate_connection(self) -> tuple[bool, str]:
        """Log in, count the systems, log out."""
        try:
            self.connect()
        except ProviderError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        try:
            assert self.settings is not None
            if self.systems_error is not None:
                return False, f"{self.settings.url}: logged in, but {self.systems_error}"
            count = len((self.systems_page or {}).get("Members") or [])
            version = (self.service or {}).get("RedfishVersion", "?")
            return True, f"Redfish {version} at {self.settings.url}: {count} systems"
        finally:
            self.disconnect()

    def collect(self) -> Iterator[ResourceData]:
        """Every ComputerSystem, then every Manager."""
        client, service = self._client(), self.service or {}
        systems = _link(service, "Systems")
        if systems:
            yield from self._members("system", systems, system_resource, self.systems_page)
        managers = _link(service, "Managers")
        if managers:
            yield from self._members("manager", managers, manager_resource)
        self.logger.info("read %s in %d requests", client.url, client.requests)

    def _members(
        self,
        kind: str,
        collection: str,
        mapper: Mapper,
        first_page: dict[str, Any] | None = None,
    ) -> Iterator[ResourceData]:
        client, service = self._client(), self.service or {}
        try:
            paths = list(client.members(collection, first_page))
        except RedfishError as exc:
            self.report_incomplete(f"{kind}s ({collection})", exc)
            return
        assert self.settings is not None
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="redfish")
        try:
            for path, outcome in zip(paths, pool.map(_fetch(client), paths), strict=True):
                if isinstance(outcome, RedfishError):
                    self._failed(f"{kind} {path}", outcome)
                    continue
                outcome.setdefault("@odata.id", path)
                yield mapper(outcome, service)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _failed(self, part: str, error: RedfishError) -> None:
        if error.status == 404:
            self.logger.info("%s was removed while it was read; skipped", part)
            return
        self.report_incomplete(part, error)

    @staticmethod
    def _service_root(client: RedfishClient) -> dict[str, Any]:
        """``/redfish/v1/``: public on every BMC; what it answers says whether it is one."""
        try:
            root = client.get(SERVICE_ROOT)
        except RedfishError as exc:
            if exc.status == 404:
                raise InvalidConfig(
                    f"endpoint: {client.url} has no Redfish service ({exc})"
                ) from None
            raise ProviderError(f"{client.url}: {exc}") from None
        if "RedfishVersion" not in root and "ServiceRoot" not in str(root.get("@odata.type")):
            raise InvalidConfig(
                f"endpoint: {client.url}{SERVICE_ROOT} answers, but not as a Redfish service root"
            )
        return root

    def _client(self) -> RedfishClient:
        if self.client is None:
            raise ProviderError("collect() called before connect()")
        return self.client


def _fetch(client: RedfishClient) -> Callable[[str], dict[str, Any] | RedfishError]:
    """A member's document, or the HTTP error it answered (kept, to name the part);
    a lost BMC or a refused login is raised and ends the collection."""

    def fetch(path: str) -> dict[str, Any] | RedfishError:
        try:
            return client.get(path)
        except RedfishError as exc:
            return exc

    return fetch


def _link(document: Mapping[str, Any], name: str) -> str | None:
    link = document.get(name)
    target = link.get("@odata.id") if isinstance(link, dict) else None
    return target if isinstance(target, str) and target else None
