"""What every action shares: a read-write session, the domain it acts on, its errors.

An action runs in the provider's long-lived process, where ``connect()`` was never
called: each one opens its own read-write connection (:meth:`Session.open`) and closes
it when done, so the host is never held open between two actions. A libvirt error is
turned into the SDK error an operator can act on: an unknown domain is ``NotFound``,
an operation the domain's state forbids is ``InvalidParameter``, a driver without the
call is ``Unsupported``, a lost host ``Unreachable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import libvirt

from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    ProviderError,
    Unauthenticated,
    Unsupported,
)

from .connection import translate
from .domains import state_of

_REFUSED = frozenset(
    {
        libvirt.VIR_ERR_OPERATION_INVALID,
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_ERR_XML_ERROR,
        libvirt.VIR_ERR_CONFIG_UNSUPPORTED,
    }
)
_UNSUPPORTED = frozenset({libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED})
_HOST_DOMAINS = frozenset(
    {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_AUTH, libvirt.VIR_FROM_SSH}
)
_HOST_CODES = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_AUTH_FAILED,
        libvirt.VIR_ERR_AUTH_CANCELLED,
        libvirt.VIR_ERR_AUTH_UNAVAILABLE,
    }
)
_DENIED = frozenset({libvirt.VIR_ERR_OPERATION_DENIED, libvirt.VIR_ERR_ACCESS_DENIED})
_EXISTS = frozenset({libvirt.VIR_ERR_DOM_EXIST, libvirt.VIR_ERR_STORAGE_VOL_EXIST})


def action_error(exc: libvirt.libvirtError, uri: str, action: str) -> ProviderError:
    """The SDK error for a libvirt error raised while ``action`` ran on ``uri``."""
    code = exc.get_error_code()
    message = str(exc.get_error_message() or exc)
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return NotFound(f"{action}: {message}")
    if code in _UNSUPPORTED:
        return Unsupported(f"{action}: {uri} cannot do this: {message}")
    if code in _DENIED:
        return Unauthenticated(
            f"{action}: {uri} refused the change ({message}); the user needs read-write "
            "access to libvirt (its read-write socket, or a polkit rule)"
        )
    if code in _REFUSED or code in _EXISTS:
        return InvalidParameter(f"{action}: {message}")
    if exc.get_error_domain() in _HOST_DOMAINS or code in _HOST_CODES:
        return translate(exc, uri)  # the host is lost or refuses the user: as collection says
    return ProviderError(f"{action}: {message}")


def word_of(domain: libvirt.virDomain) -> str:
    """libvirt's word for the domain's state now (``running``, ``shutoff``, …)."""
    return state_of(domain.state()[0])[1]


class Session:
    """Mixed into the provider: opens the read-write connection an action needs."""

    def _open_writable(self) -> tuple[libvirt.virConnect, str]:
        """A read-write connection and the URI it reached; the provider's."""
        raise NotImplementedError

    @contextmanager
    def _session(self, action: str) -> Iterator[libvirt.virConnect]:
        connection, uri = self._open_writable()
        try:
            yield connection
        except libvirt.libvirtError as exc:
            raise action_error(exc, uri, action) from exc
        finally:
            with suppress(libvirt.libvirtError):  # a lost connection is already closed
                connection.close()

    @staticmethod
    def _domain(connection: libvirt.virConnect, ems_ref: str) -> libvirt.virDomain:
        """The domain whose UUID is ``ems_ref``, or ``NotFound``."""
        try:
            return connection.lookupByUUIDString(ems_ref)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                raise NotFound(f"no domain with UUID {ems_ref!r} on this host") from None
            raise

    # -- availability, from the stored record ------------------------------------------

    def _when_running(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return state == "running", "" if state == "running" else f"it is {state}, not running"

    def _when_stopped(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        if state == "stopped":
            return True, ""
        return False, f"it is {state}: power it off or shut it down first"

    def _when_snapshots(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        properties = (resource or {}).get("properties") or {}
        if properties.get("snapshots"):
            return True, ""
        return False, "the domain has no snapshots"
