"""A loopback UDP port that forwards every datagram to another one a little later.

Why: a real BMC answers over a management LAN in milliseconds; ipmi_sim on loopback
answers in microseconds, before pyghmi has registered its wait for the answer (pyghmi
sends, then queues its waiter; an answer that arrives in between is only picked up
when the retry timer fires, 0.5 to 1 s later). Through this relay each datagram takes
``delay`` seconds each way, as on a LAN, and pyghmi reads ipmi_sim at its real speed.
The datagrams themselves pass unchanged, both ways. A datagram to a port that has
gone (a client's closed socket) is lost, as on any network, and the relay goes on.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import select
import socket
import threading
import time
from types import TracebackType

Address = tuple[str, int]


class UdpLatency:
    """Relay ``127.0.0.1:<port>`` ⇄ ``upstream``, each datagram ``delay`` seconds late.

    Each client address gets a socket of its own towards the upstream, so the upstream
    sees one peer per client, as it would without the relay.
    """

    def __init__(self, upstream: Address, delay: float = 0.001) -> None:
        self.upstream = upstream
        self.delay = delay
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port: int = self.front.getsockname()[1]
        self._backs: dict[Address, socket.socket] = {}
        self._clients: dict[socket.socket, Address] = {}
        self._due: list[tuple[float, int, socket.socket, bytes, Address]] = []
        self._order = itertools.count()
        self._wake, self._waker = socket.socketpair()
        self._running = True
        self._thread = threading.Thread(
            target=self._loop, name=f"udp-latency-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop forwarding and close every socket."""
        self._running = False
        self._waker.send(b"x")
        self._thread.join(timeout=5)
        for sock in (self.front, self._wake, self._waker, *self._backs.values()):
            sock.close()

    def __enter__(self) -> UdpLatency:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _loop(self) -> None:
        while self._running:
            timeout = max(0.0, self._due[0][0] - time.monotonic()) if self._due else None
            readable, _, _ = select.select(
                [self.front, self._wake, *self._clients], [], [], timeout
            )
            for sock in readable:
                if sock is self._wake:
                    sock.recv(16)
                    continue
                try:
                    data, sender = sock.recvfrom(65535)
                except OSError:  # an ICMP "port unreachable" for an earlier datagram
                    continue
                if sock is self.front:
                    self._later(self._back_for(sender), data, self.upstream)
                else:
                    self._later(self.front, data, self._clients[sock])
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                _, _, out, data, target = heapq.heappop(self._due)
                with contextlib.suppress(OSError):  # lost, as a datagram may be
                    out.sendto(data, target)

    def _back_for(self, client: Address) -> socket.socket:
        back = self._backs.get(client)
        if back is None:
            back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            back.bind(("127.0.0.1", 0))
            self._backs[client] = back
            self._clients[back] = client
        return back

    def _later(self, out: socket.socket, data: bytes, target: Address) -> None:
        due = time.monotonic() + self.delay
        heapq.heappush(self._due, (due, next(self._order), out, data, target))
