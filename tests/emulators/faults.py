"""An HTTP forward proxy in front of an emulator that answers chosen requests with a fault.

The platform stays real: every request the proxy lets through reaches the emulator
(moto) unchanged, and its answer comes back unchanged. A test names which requests
fail and how (``Fault``): throttled with the platform's own error, or refused for one
region. A client reaches it the way clients reach any proxy, through ``HTTP_PROXY`` in
its environment, so a test of it also shows the plugin honours proxy settings.

Given ``upstream``, it is also a reverse proxy (requests with a plain path go there),
and given a certificate it speaks TLS: an emulator over HTTPS without restarting it.

Requests are recognised by what AWS clients send: the action in a query-protocol
body (``Action=DescribeInstances``) or the ``X-Amz-Target`` header, and the region in
the SigV4 credential scope of ``Authorization``.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the proxy received: its action and region as AWS would read them
    (for a tunnel: ``CONNECT`` and the host:port asked for)."""

    action: str
    region: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What the proxy answers instead of forwarding."""

    status: int
    body: bytes
    content_type: str = "text/xml"


Fault = Callable[[Seen, int], Answer | None]
"""Given a request and how many requests with its action came before it, an answer
to give instead of forwarding it, or None to forward it."""


def ec2_error(status: int, code: str, message: str) -> Answer:
    """An error in EC2's query-protocol shape (what botocore parses for EC2)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
        "</Error></Errors><RequestID>fault-injected</RequestID></Response>"
    )
    return Answer(status, body.encode())


def throttle(action: str, times: int | None) -> Fault:
    """The first ``times`` requests of ``action`` (every one if None) throttled as EC2
    throttles: HTTP 503 ``RequestLimitExceeded``."""

    def fault(seen: Seen, earlier: int) -> Answer | None:
        if seen.action == action and (times is None or earlier < times):
            return ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")
        return None

    return fault


def region_down(region: str) -> Fault:
    """Every request signed for ``region`` answered 503, as a region in an outage."""

    def fault(seen: Seen, earlier: int) -> Answer | None:
        if seen.region == region:
            return ec2_error(503, "Unavailable", f"The service is unavailable in {region}.")
        return None

    return fault


@dataclass
class FaultProxy:
    """Where the proxy listens (for ``HTTP_PROXY``) and every request it saw."""

    url: str
    seen: list[Seen] = field(default_factory=list)

    def count(self, action: str, region: str | None = None) -> int:
        return sum(1 for s in self.seen if s.action == action and region in (None, s.region))


_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding"})


@contextlib.contextmanager
def fault_proxy(
    *faults: Fault, upstream: str | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[FaultProxy]:
    """A proxy on a free loopback port applying ``faults`` in order.

    ``upstream`` (a base URL) receives requests whose target is a plain path; ``tls``
    is a (certificate, key) pair in PEM files to serve HTTPS with.
    """
    proxy = FaultProxy(url="")
    lock = threading.Lock()
    counts: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._relay()

        def do_GET(self) -> None:
            self._relay()

        def do_PUT(self) -> None:
            self._relay()

        def do_DELETE(self) -> None:
            self._relay()

        def do_HEAD(self) -> None:
            self._relay()

        def do_CONNECT(self) -> None:
            """An HTTPS tunnel (``HTTPS_PROXY``): bytes passed both ways, never looked into."""
            with lock:
                proxy.seen.append(Seen("CONNECT", self.path))
            host, _, port = self.path.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=60)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            _pipe(self.connection, upstream)

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(_action(self.headers.get("X-Amz-Target"), body, self.path), _region(self))
            with lock:
                earlier = counts.get(seen.action, 0)
                counts[seen.action] = earlier + 1
                proxy.seen.append(seen)
            for fault in faults:
                answer = fault(seen, earlier)
                if answer is not None:
                    self._send(answer.status, {"Content-Type": answer.content_type}, answer.body)
                    return
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            absolute = self.path.startswith(("http://", "https://"))
            target = urlsplit(self.path if absolute else f"{upstream}{self.path}")
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            path = target.path + (f"?{target.query}" if target.query else "")
            try:
                connection.request(self.command, path or "/", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                kept.pop("Content-Length", None)
                self._send(response.status, kept, data)
            finally:
                connection.close()

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    proxy.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes between the two sockets until either side closes."""

    def copy(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    back.start()
    copy(client, upstream)
    back.join(timeout=60)
    upstream.close()


def _action(target: str | None, body: bytes, path: str) -> str:
    if target:
        return target.rsplit(".", 1)[-1]
    values = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if values:
        return values[0]
    return urlsplit(path).path or "/"


def _region(handler: BaseHTTPRequestHandler) -> str:
    found = _SCOPE.search(handler.headers.get("Authorization") or "")
    return found.group(1) if found else ""
