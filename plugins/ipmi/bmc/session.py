"""One pyghmi session to a BMC, every call bounded in time, failures in Estate's words.

IPMI runs over UDP: a BMC that is down, firewalled or on the wrong port never says
no, it just does not answer, and pyghmi retries on its own schedule. Each call here
runs in a daemon thread that the caller waits for at most ``timeout`` seconds, so
an unreachable BMC fails the login (or a read) in that time, whatever pyghmi does.
A call that timed out leaves its thread behind; the session is then dead and the
next calls fail at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyghmi.exceptions import IpmiException
from pyghmi.ipmi.command import Command

from inventory_providers.errors import ProviderError, Unauthenticated, Unreachable

from .settings import Settings

T = TypeVar("T")
LOGOUT_TIMEOUT = 2.0
# pyghmi's words for a login the BMC refused (RAKP is IPMI 2.0's authentication).
_REFUSED = ("password", "unauthorized name", "rakp", "privilege", "integrity")
# ...and for a BMC that stopped answering.
_SILENT = ("timeout", "no longer connected", "failed to initialize", "disconnected")


class Session:
    """A logged-in ``pyghmi.ipmi.command.Command``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_dead = False
        # As bytes: pyghmi files a session being set up under the arguments as given
        # and drops the entry under its own (encoded) copies, so with str arguments the
        # entry stays and the next login to this BMC in the process gets the old,
        # logged-out session back (a long-lived process tests connections repeatedly).
        self.command: Command = self.call(
            "the login",
            lambda: Command(
                bmc=settings.host,
                userid=settings.username.encode(),
                password=settings.password.encode(),
                port=settings.port,
            ),
        )

    def call(self, what: str, function: Callable[[], T]) -> T:
        """``function()`` within the timeout; any failure as an SDK error naming ``what``."""
        if self.is_dead:
            raise Unreachable(f"BMC {self.settings.address} stopped answering; {what} not read")
        try:
            return _bounded(function, self.settings.timeout)
        except TimeoutError as exc:
            self.is_dead = True
            raise Unreachable(
                f"BMC {self.settings.address} did not answer {what} within "
                f"{self.settings.timeout} s: check the endpoint, the UDP port and that IPMI "
                "over LAN is enabled on the BMC"
            ) from exc
        except Exception as exc:  # pyghmi and the socket layer raise many kinds
            error = translate(exc, self.settings, what)
            if isinstance(error, Unreachable):
                self.is_dead = True
            raise error from exc

    def close(self) -> None:
        """Log out (bounded, and never failing: the BMC frees the session in time anyway)."""
        command = getattr(self, "command", None)
        if command is None or self.is_dead:
            return
        with contextlib.suppress(Exception):  # a failed logout changes nothing for the caller
            _bounded(command.ipmi_session.logout, LOGOUT_TIMEOUT)


def translate(exc: BaseException, settings: Settings, what: str) -> ProviderError:
    """``exc`` from pyghmi as the SDK error that says what to do."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, socket.gaierror):
        return Unreachable(f"cannot resolve the BMC's host name {settings.host!r} ({exc.strerror})")
    if isinstance(exc, OSError):
        return Unreachable(f"cannot reach BMC {settings.address}: {exc.strerror or exc}")
    text = str(exc.args[0]) if exc.args and exc.args[0] is not None else ""
    lowered = text.lower()
    if isinstance(exc, IpmiException) and any(word in lowered for word in _REFUSED):
        user = repr(settings.username) if settings.username else "the anonymous user"
        return Unauthenticated(
            f"BMC {settings.address} refused the login of {user} ({text}): check the "
            "username and password, and that the user may log in over LAN"
        )
    if isinstance(exc, IpmiException) and (not text or any(word in lowered for word in _SILENT)):
        return Unreachable(
            f"BMC {settings.address} did not answer {what}: check the endpoint, the UDP port "
            "and that IPMI over LAN is enabled on the BMC"
        )
    return ProviderError(f"BMC {settings.address} failed {what}: {text or type(exc).__name__}")


def _bounded(function: Callable[[], T], timeout: float) -> T:
    """``function()`` in a daemon thread, waited for ``timeout`` seconds at most."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="ipmi-call", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
