"""A vCenter session: log in with every wait bounded, count round trips, name failures.

pyVmomi's ``SmartConnect`` asks the server for its API versions without a timeout, so
a host that accepts the connection and never answers would hang the collection; this
module asks itself, with ``timeout``, and then logs in over a stub whose every request
is bounded by the same ``timeout``. Each failure becomes the SDK error an operator
can act on (``Unauthenticated``, ``Unreachable``, …) with a message saying what to
check; the password never appears in one.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from pyVmomi import vim, vmodl
from pyVmomi.SoapAdapter import SoapStubAdapter
from pyVmomi.VmomiSupport import GetServiceVersions, versionIdMap

from inventory_providers.errors import (
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
    Unreachable,
)

from .settings import Settings

VERSIONS_PATH = "/sdk/vimServiceVersions.xml"
THROTTLED = ("429", "503")  # HTTP statuses vCenter's proxy answers when it is overloaded
RETRIES = 3
BACKOFF_S = 0.5


class PlatformFault(ProviderError):
    """vCenter refused one call with a fault (``ManagedObjectNotFound``, ``NoPermission``,
    …): the session is fine, so the rest of the inventory may still be read. ``fault``
    is the fault's vSphere name, for an action to translate it."""

    def __init__(self, message: str, fault: str = "") -> None:
        super().__init__(message)
        self.fault = fault


class Session:
    """A logged-in session: the ``ServiceContent`` and a count of HTTP round trips."""

    def __init__(self, settings: Settings, logger: logging.Logger) -> None:
        self.settings = settings
        self.logger = logger
        self.round_trips = 0
        self.stub: SoapStubAdapter | None = None
        self.content: Any = None
        self.logged_in = False

    def call(self, what: str, method: Callable[..., Any], *args: Any) -> Any:
        """One SOAP call, counted; a throttled answer is retried with backoff, and any
        failure is raised as the SDK error that says what to do."""
        for attempt in range(RETRIES + 1):
            self.round_trips += 1
            try:
                return method(*args)
            except http.client.HTTPException as exc:
                if not str(exc).startswith(THROTTLED) or attempt == RETRIES:
                    raise self.error(exc, what) from None
                delay = BACKOFF_S * 2**attempt
                self.logger.warning(
                    "vCenter answered %s to %s; retrying in %.1f s (%d of %d)",
                    exc, what, delay, attempt + 1, RETRIES,
                )  # fmt: skip
                time.sleep(delay)
            except Exception as exc:  # every failure of the client library is translated
                raise self.error(exc, what) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def error(self, exc: BaseException, what: str) -> ProviderError:
        """The SDK error for ``exc``, raised while doing ``what``."""
        where, timeout = self.settings.where, self.settings.timeout
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, vim.fault.InvalidLogin):
            return Unauthenticated(
                f"vCenter at {where} refused the login of {self.settings.username!r} "
                "(InvalidLogin): check username and password"
            )
        if isinstance(exc, vim.fault.NotAuthenticated):
            return Unauthenticated(
                f"vCenter at {where} ended the session during {what} (NotAuthenticated); "
                "collect again, and check that the user is not locked out"
            )
        if isinstance(exc, vmodl.MethodFault):
            name = type(exc).__name__.rpartition(".")[2]
            detail = f": {exc.msg}" if getattr(exc, "msg", "") else ""
            return PlatformFault(f"vCenter at {where} refused {what} ({name}){detail}", name)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return Unreachable(
                f"the TLS certificate of {where} is not trusted ({exc.verify_message}); "
                "add the vCenter's CA to the trusted certificates (or SSL_CERT_FILE) or "
                "set verify_ssl to false"
            )
        if isinstance(exc, TimeoutError):
            if self.logged_in:
                return ProviderTimeout(
                    f"vCenter at {where} did not answer {what} within {timeout:g} s; "
                    "raise timeout or lower page_size"
                )
            return Unreachable(
                f"vCenter at {where} did not answer within {timeout:g} s; check the "
                "endpoint, the port and firewalls, or raise timeout"
            )
        if isinstance(exc, ConnectionRefusedError):
            return Unreachable(f"{where} refused the connection: check the endpoint and port")
        if isinstance(exc, socket.gaierror):
            return Unreachable(f"cannot resolve {self.settings.host!r} ({exc.strerror})")
        if isinstance(exc, OSError | http.client.HTTPException):
            detail = str(exc) or type(exc).__name__
            return Unreachable(f"connection to {where} failed during {what}: {detail}")
        return ProviderError(f"{what} failed at {where}: {type(exc).__name__}: {exc}")


def open_session(settings: Settings, logger: logging.Logger) -> Session:
    """Log in; raise ``Unauthenticated``, ``Unreachable`` or another SDK error."""
    session = Session(settings, logger)
    context = _tls_context(settings.verify_ssl)
    version = session.call("the API version query", _api_version, settings, context)
    session.stub = SoapStubAdapter(
        host=settings.host,
        port=settings.port,
        version=version,
        sslContext=context,
        httpConnectionTimeout=settings.timeout,
    )
    try:
        instance = vim.ServiceInstance("ServiceInstance", session.stub)
        session.content = session.call("RetrieveServiceContent", instance.RetrieveContent)
        manager = session.content.sessionManager
        session.call("Login", manager.Login, settings.username, settings.password, None)
    except BaseException:
        close_session(session)  # the stub's pooled connection
        raise
    session.logged_in = True
    return session


def close_session(session: Session) -> None:
    """Log out (a vCenter limits its sessions) and drop the connections; never raises."""
    if session.logged_in:
        session.logged_in = False
        with contextlib.suppress(ProviderError):
            session.call("Logout", session.content.sessionManager.Logout)
    if session.stub is not None:
        session.stub.DropConnections()
        session.stub = None
        session.logger.info(
            "closed the session to %s after %d round trips",
            session.settings.where,
            session.round_trips,
        )


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _api_version(settings: Settings, context: ssl.SSLContext) -> str:
    """The newest vSphere API version both pyVmomi and the server speak."""
    connection = http.client.HTTPSConnection(
        settings.host, settings.port, timeout=settings.timeout, context=context
    )
    try:
        connection.request("GET", VERSIONS_PATH)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise Unreachable(
            f"{settings.where} answered HTTP {response.status} for {VERSIONS_PATH}: "
            "is the endpoint a vCenter (or ESXi host)?"
        )
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise Unreachable(f"{settings.where} answered {VERSIONS_PATH} with no XML") from None
    offered = {
        version.text
        for namespace in root.iter("namespace")
        if namespace.findtext("name") in (None, "urn:vim25")
        for version in namespace.iter("version")
    }
    for version in GetServiceVersions("vim25"):  # the most preferred first
        if versionIdMap.get(version) in offered:
            return str(version)
    raise ProviderError(
        f"{settings.where} offers vSphere API versions {sorted(filter(None, offered))}, "
        "none of which this pyVmomi speaks: install a pyVmomi that does"
    )
