"""A small Redfish client over httpx: basic auth, bounded time, retries, errors.

Collections only GET; actions also POST (``ComputerSystem.Reset``) and PATCH (the
boot override), which are retried only when the BMC throttled them (it did not act).

Everything a BMC can answer is turned into what an operator can act on here, once:
a refused login is ``Unauthenticated``, a host that cannot be reached (or a certificate
that does not verify) is ``Unreachable``, and throttling (429, or 503 with
``Retry-After``) is waited out with backoff a few times before it counts as a failure.
Other HTTP errors are :class:`RedfishError`, which the provider turns into a partial
run when they hit one part of the BMC.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from inventory_providers.errors import InvalidConfig, Unauthenticated, Unreachable

SERVICE_ROOT = "/redfish/v1/"
RETRIES = 4
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 30.0
MAX_PAGES = 10_000


class RedfishError(Exception):
    """An HTTP error answer of the BMC (other than a refused login), with its message."""

    def __init__(self, path: str, status: int, message: str, method: str = "GET") -> None:
        super().__init__(f"{method} {path}: HTTP {status}{': ' + message if message else ''}")
        self.path = path
        self.status = status
        self.message = message


def base_url(endpoint: str | None, port: int | None) -> str:
    """The BMC's origin (``https://host:port``) from the endpoint: a URL, or a bare host
    reached over HTTPS on ``port``. A path after the host (``/redfish/v1``) is ignored:
    the service root is at the same place on every BMC."""
    if not endpoint or not isinstance(endpoint, str):
        raise InvalidConfig("endpoint: required: the BMC's URL, such as https://bmc1.example.com")
    text = endpoint.strip()
    if "://" not in text:
        text = f"https://{text}" + (f":{port}" if port and ":" not in text else "")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidConfig(
            f"endpoint: {endpoint!r} is not a BMC URL; write https://bmc1.example.com "
            "(or http:// for a BMC without TLS)"
        )
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class RedfishClient:
    """Requests to one BMC; a context manager closing its connections."""

    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        *,
        verify: bool,
        timeout: float,
    ) -> None:
        self.url = url
        self.username = username
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._http = httpx.Client(
            base_url=url,
            auth=auth,
            verify=verify,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "OData-Version": "4.0"},
            follow_redirects=True,
        )
        self._lock = threading.Lock()
        self._sent = 0

    @property
    def requests(self) -> int:
        """How many requests were sent so far (retries included)."""
        return self._sent

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RedfishClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str) -> dict[str, Any]:
        """The JSON document at ``path``, waiting out throttling."""
        return self._document(path, self._patiently("GET", path))

    def post(self, path: str, body: dict[str, Any]) -> None:
        """POST ``body`` (an action, such as ``ComputerSystem.Reset``) to ``path``."""
        self._check("POST", path, self._patiently("POST", path, body))

    def patch(self, path: str, body: dict[str, Any]) -> None:
        """PATCH the resource at ``path`` with ``body``."""
        self._check("PATCH", path, self._patiently("PATCH", path, body))

    def _patiently(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """The answer to the request, once the BMC stopped throttling (or gave up on it)."""
        for attempt in range(RETRIES):
            response = self._send(path, method, body)
            if not _is_throttled(response):
                return response
            time.sleep(_wait(response, attempt))
        return self._send(path, method, body)

    def members(self, path: str, first_page: dict[str, Any] | None = None) -> Iterator[str]:
        """The ``@odata.id`` of every member of the collection at ``path``, page after
        page (``Members@odata.nextLink``), each once; ``first_page`` if already read."""
        seen: set[str] = set()
        next_page: str | None = path
        for _ in range(MAX_PAGES):
            if next_page is None:
                return
            page = first_page if first_page is not None else self.get(next_page)
            first_page = None
            for member in page.get("Members") or []:
                link = member.get("@odata.id") if isinstance(member, dict) else None
                if isinstance(link, str) and link not in seen:
                    seen.add(link)
                    yield link
            link = page.get("Members@odata.nextLink")
            next_page = link if isinstance(link, str) and link else None
        raise RedfishError(path, 0, f"more than {MAX_PAGES} pages; is nextLink looping?")

    def _send(
        self, path: str, method: str = "GET", body: dict[str, Any] | None = None
    ) -> httpx.Response:
        with self._lock:  # the provider reads members from several threads
            self._sent += 1
        try:
            return self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise Unreachable(
                f"{self.url}: no answer to {method} {path} in time ({type(exc).__name__}); check "
                "that the BMC is up and reachable, or raise the timeout connection parameter"
            ) from None
        except httpx.TransportError as exc:
            raise Unreachable(f"{self.url}: {_reason(exc)}") from None

    def _check(self, method: str, path: str, response: httpx.Response) -> None:
        """Raise what an error answer means: a refused login, a forbidden request, or a
        :class:`RedfishError` with the BMC's message."""
        status = response.status_code
        if status == 401:
            who = f"user {self.username!r}" if self.username else "a request without credentials"
            raise Unauthenticated(
                f"{self.url}: the BMC refused {who} (HTTP 401); check username and password"
            )
        if status == 403 and method == "GET":
            raise Unauthenticated(
                f"{self.url}: user {self.username!r} may not read {path} (HTTP 403); "
                "a Redfish account with the ReadOnly role (Login privilege) is enough"
            )
        if status == 403:
            raise Unauthenticated(
                f"{self.url}: user {self.username!r} may not {method} {path} (HTTP 403); "
                "power and boot changes need an account with the Operator role"
            )
        if status >= 400:
            raise RedfishError(path, status, _error_message(response), method)

    def _document(self, path: str, response: httpx.Response) -> dict[str, Any]:
        self._check("GET", path, response)
        status = response.status_code
        try:
            document = response.json()
        except ValueError:
            raise RedfishError(path, status, "the answer is not JSON") from None
        if not isinstance(document, dict):
            raise RedfishError(path, status, "the answer is not a JSON object")
        return document


def _is_throttled(response: httpx.Response) -> bool:
    """429, or 503 with Retry-After: the BMC asks to come back later."""
    status = response.status_code
    return status == 429 or (status == 503 and "retry-after" in response.headers)


def _wait(response: httpx.Response, attempt: int) -> float:
    """Seconds before trying again: the BMC's Retry-After, else exponential backoff."""
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        return min(float(header), MAX_WAIT_SECONDS)
    return min(
        BACKOFF_SECONDS * 2.0**attempt + random.uniform(0, BACKOFF_SECONDS), MAX_WAIT_SECONDS
    )


def _error_message(response: httpx.Response) -> str:
    """The message of a Redfish error body (``{"error": {"message": …}}``), if any."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        extended = error.get("@Message.ExtendedInfo")
        if isinstance(extended, list) and extended and isinstance(extended[0], dict):
            message = extended[0].get("Message") or message
        if isinstance(message, str):
            return message[:500]
    return response.reason_phrase


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"the BMC's TLS certificate does not verify ({text}); install its CA "
            "(SSL_CERT_FILE) or set verify_ssl to false"
        )
    return f"{text}; check the BMC address and port and that it is reachable"
