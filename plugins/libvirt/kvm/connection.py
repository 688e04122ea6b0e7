"""Opening a libvirt connection that never hangs, and what its errors mean to an operator.

libvirt has no connect timeout of its own: a host that drops packets, or a port that
accepts but never speaks the protocol, keeps ``virConnectOpenAuth`` waiting for minutes.
The open runs in a thread that is waited for ``timeout`` seconds; past that the
operator gets ``Unreachable`` (and the late connection, if it ever comes, is closed).
Once open, a remote connection sends keepalives, so a host that dies during a
collection ends the call in about ``timeout`` seconds instead of never. Keepalives
need an event loop: libvirt's default one runs in a daemon thread, started once.

A collection's connection is read-only: collecting needs nothing more, and on
``qemu:///system`` the read-only socket is open to users that may not manage VMs.
Actions open a read-write one (``read_only=False``) for the call they make.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import libvirt

from inventory_providers.errors import (
    InvalidConfig,
    ProviderError,
    Unauthenticated,
    Unreachable,
)

KEEPALIVE_COUNT = 3
_AUTH_CODES = frozenset(
    {libvirt.VIR_ERR_AUTH_FAILED, libvirt.VIR_ERR_AUTH_CANCELLED, libvirt.VIR_ERR_AUTH_UNAVAILABLE}
)
_AUTH_DOMAINS = frozenset({libvirt.VIR_FROM_AUTH, libvirt.VIR_FROM_SSH, libvirt.VIR_FROM_POLKIT})
_NETWORK_DOMAINS = frozenset({libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE})
_NETWORK_CODES = frozenset(
    {libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT}
)
_GONE_CODES = frozenset(
    {
        libvirt.VIR_ERR_NO_DOMAIN,
        libvirt.VIR_ERR_NO_NETWORK,
        libvirt.VIR_ERR_NO_STORAGE_POOL,
        libvirt.VIR_ERR_NO_STORAGE_VOL,
    }
)
# Transports whose peer identity is checked, and the URI parameter that turns it off.
_NO_VERIFY = {
    "tls": ("no_verify", "1"),
    "ssh": ("no_verify", "1"),
    "libssh": ("known_hosts_verify", "ignore"),
    "libssh2": ("known_hosts_verify", "ignore"),
}
_event_loop_lock = threading.Lock()
_event_loop_started = False


def check_uri(uri: str | None) -> str:
    """The endpoint as a libvirt URI, or ``InvalidConfig`` saying what one looks like."""
    if not uri or not isinstance(uri, str):
        raise InvalidConfig(
            "endpoint: required: a libvirt URI such as qemu+ssh://root@kvm1.example.com/system"
        )
    parts = urlsplit(uri.strip())
    if not parts.scheme or not (parts.path or parts.netloc):
        raise InvalidConfig(
            f"endpoint: {uri!r} is not a libvirt URI; write the driver and the host, "
            "e.g. qemu+ssh://root@kvm1.example.com/system or qemu:///system"
        )
    return uri.strip()


def with_verification(uri: str, verify: bool) -> str:
    """``uri``, with its transport's peer check turned off when ``verify`` is False."""
    if verify:
        return uri
    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    if transport not in _NO_VERIFY:
        return uri
    name, value = _NO_VERIFY[transport]
    query = dict(parse_qsl(parts.query))
    query.setdefault(name, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_remote(uri: str) -> bool:
    """True for a URI that reaches libvirtd over a transport (keepalive applies)."""
    parts = urlsplit(uri)
    return "+" in parts.scheme or bool(parts.hostname)


def open_connection(
    uri: str,
    username: str | None,
    password: str | None,
    timeout: float,
    *,
    read_only: bool = True,
) -> libvirt.virConnect:
    """A connection to ``uri`` (read-only unless told) within ``timeout`` seconds, or a
    ProviderError."""
    _start_event_loop()
    asked: list[int] = []
    outcome: dict[str, Any] = {}
    gave_up = threading.Event()

    def callback(credentials: list[list[Any]], _data: object) -> int:
        for credential in credentials:
            asked.append(credential[0])
            if credential[0] == libvirt.VIR_CRED_AUTHNAME and username:
                credential[4] = username
            elif credential[0] == libvirt.VIR_CRED_PASSPHRASE and password:
                credential[4] = password
            else:
                return -1
        return 0

    def opener() -> None:
        auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], callback, None]
        try:
            flags = libvirt.VIR_CONNECT_RO if read_only else 0
            connection = libvirt.openAuth(uri, auth, flags)
        except libvirt.libvirtError as exc:
            outcome["error"] = exc
            return
        if gave_up.is_set():  # too late: nobody will use or close it
            connection.close()
        else:
            outcome["connection"] = connection

    thread = threading.Thread(target=opener, name="libvirt-open", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        gave_up.set()
        raise Unreachable(
            f"{uri}: no answer within {timeout:g} s; check that the host is up and "
            "libvirtd listens there, or raise the timeout connection parameter"
        )
    if "error" in outcome:
        raise translate(outcome["error"], uri, asked=asked, has_credentials=bool(username))
    connection: libvirt.virConnect = outcome["connection"]
    if is_remote(uri):
        interval = max(1, int(timeout) // (KEEPALIVE_COUNT + 1))
        connection.setKeepAlive(interval, KEEPALIVE_COUNT)
    return connection


def translate(
    exc: libvirt.libvirtError,
    uri: str,
    *,
    asked: list[int] | None = None,
    has_credentials: bool = True,
) -> ProviderError:
    """The SDK error an operator can act on for a libvirt error at ``uri``."""
    code, domain = exc.get_error_code(), exc.get_error_domain()
    message = str(exc.get_error_message() or exc)
    if code in _AUTH_CODES or domain in _AUTH_DOMAINS:
        if asked and not has_credentials:
            return Unauthenticated(
                f"{uri}: the host asks for credentials ({message}); set username and "
                "password in connection_config"
            )
        return Unauthenticated(f"{uri}: {message}; check username and password")
    if domain in _NETWORK_DOMAINS or code in _NETWORK_CODES:
        return Unreachable(f"{uri}: {message}")
    if code == libvirt.VIR_ERR_NO_SUPPORT or code == libvirt.VIR_ERR_INVALID_ARG:
        return InvalidConfig(f"endpoint {uri}: {message}")
    return Unreachable(f"{uri}: {message}")


def is_gone(exc: libvirt.libvirtError) -> bool:
    """True when the object asked about was removed meanwhile (listed, then undefined)."""
    return bool(exc.get_error_code() in _GONE_CODES)


def is_unsupported(exc: libvirt.libvirtError) -> bool:
    """True when the driver does not implement the call (the test driver, old hosts)."""
    return bool(exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT)


def _start_event_loop() -> None:
    """libvirt's default event loop in a daemon thread, once per process (keepalives).

    libvirt also prints every error to stderr by default; the plugin reports them
    itself, so that printer is replaced by one that stays quiet.
    """
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.registerErrorHandler(_quiet, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def _run_event_loop() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


def _quiet(_context: object, _error: object) -> None:
    return None
