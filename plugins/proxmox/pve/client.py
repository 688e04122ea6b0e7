"""The proxmoxer session, and what its failures mean to an operator.

Every request is bounded by the provider's ``timeout`` (proxmoxer hands it to
requests for the connection and for each read), so an endpoint that does not
answer fails the call in that time instead of hanging the run. A read that the API
refuses for now (429, or 502-504 from pveproxy or a proxy in front of it) or whose
connection was reset is tried again after 0.25, 0.5 and 1 s (with jitter); a
timeout is not, so the bound holds.
"""

from __future__ import annotations

import random
import re
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import urllib3
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException

from inventory_providers.errors import (
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
    Unreachable,
)

from .settings import Settings

T = TypeVar("T")
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
RETRIES = 3
FIRST_BACKOFF = 0.25
# PVE's own "the node cannot be reached" answers (AnyEvent::HTTP's 59x codes).
NODE_UNREACHABLE = frozenset({595, 596, 597, 599})
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_CODE = re.compile(r"code: (\d+)")


def open_api(settings: Settings) -> tuple[ProxmoxAPI, str]:
    """A logged-in session and the PVE version that answered.

    A password login fetches a ticket at once; an API token is only checked by the
    first request, so both ask for ``/version`` before anything else.
    """
    if not settings.verify_ssl:
        # The operator chose it (PVE's own certificate is self-signed): one line in the
        # run's log says so, rather than urllib3's warning on every request.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    try:
        api = ProxmoxAPI(
            settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            token_name=settings.token_name,
            token_value=settings.token_value,
            verify_ssl=settings.verify_ssl,
            timeout=settings.timeout,
        )
        version = api.version.get() or {}
    except requests.exceptions.Timeout as exc:  # not a word yet: as good as nobody there
        raise _silent(settings) from exc
    except Exception as exc:  # proxmoxer and requests raise many kinds; each is translated
        raise translate(exc, settings) from exc
    return api, str(version.get("version") or "")


def translate(exc: BaseException, settings: Settings) -> ProviderError:
    """``exc`` from proxmoxer or requests as the SDK error that says what to do."""
    if isinstance(exc, ProviderError):
        return exc
    url = settings.url
    if isinstance(exc, AuthenticationError):
        code = _CODE.search(str(exc))
        if code and code.group(1) != "401":
            return Unreachable(
                f"{url} answered the login with HTTP {code.group(1)}: is it a PVE API?"
            )
        return Unauthenticated(
            f"{url} refused the login of {settings.user}: check the username (user@realm) "
            "and the password"
        )
    if isinstance(exc, ResourceException):
        return _from_status(exc, settings)
    if isinstance(exc, requests.exceptions.SSLError):
        return Unreachable(
            f"the TLS certificate of {url} is not trusted ({_reason(exc)}): set verify_ssl "
            "to false for PVE's self-signed certificate, or name its CA in REQUESTS_CA_BUNDLE"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _silent(settings)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ProviderTimeout(
            f"{url} accepted the connection but sent no answer within {settings.timeout} s; "
            "raise connection_config.timeout if the cluster is slow"
        )
    if isinstance(exc, requests.exceptions.RequestException | OSError):
        return Unreachable(
            f"cannot connect to {url} ({_reason(exc)}): check the endpoint and the port, "
            "and that the API service (pveproxy) runs"
        )
    return ProviderError(f"{url}: {type(exc).__name__}: {exc}")


def _silent(settings: Settings) -> Unreachable:
    return Unreachable(
        f"{settings.url} did not answer within {settings.timeout} s: check the endpoint, the "
        "port and the firewall between Estate and the node"
    )


def _from_status(exc: ResourceException, settings: Settings) -> ProviderError:
    status = exc.status_code
    if status == 401:
        if settings.token_name:
            who = f"the API token {settings.user}!{settings.token_name}"
            return Unauthenticated(
                f"{settings.url} refused {who}: check token_name and token_value, "
                "and that the token has not expired"
            )
        return Unauthenticated(f"{settings.url} no longer accepts the session of {settings.user}")
    if status == 403:
        return Unauthenticated(
            f"{settings.url}: {settings.user} may not read this ({_message(exc)}); give it the "
            "PVEAuditor role on / (and Privilege Separation off for an API token)"
        )
    if status in NODE_UNREACHABLE:
        return Unreachable(f"{settings.url}: {_message(exc)}")
    return ProviderError(f"{settings.url} answered HTTP {status}: {_message(exc)}")


def _message(exc: ResourceException) -> str:
    return str(exc.content or exc.status_message or exc).strip()


def _reason(exc: BaseException) -> str:
    """The innermost cause requests buries in its message (``[Errno 111] Connection refused``)."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    return text.rsplit(": ", 1)[-1].strip(" ')\"") or type(exc).__name__


def get(resource: Any, settings: Settings, **params: Any) -> Any:
    """``resource.get(**params)``, retried as the module says, its failure translated."""
    try:
        return retried(lambda: resource.get(**params))
    except Exception as exc:  # as in open_api
        raise translate(exc, settings) from exc


def retried(call: Callable[[], T]) -> T:
    """``call()``, tried again after a refusal for now or a reset connection."""
    for attempt in range(RETRIES):
        try:
            return call()
        except ResourceException as exc:
            if exc.status_code not in RETRIED_STATUSES:
                raise
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
                raise
        time.sleep(FIRST_BACKOFF * 2**attempt * (1 + random.random() / 4))
    return call()
