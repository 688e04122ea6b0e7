"""Connections spread evenly over the API workers (``estate serve --workers N``).

Each worker accepts on a socket of its own and the kernel hashes each new connection
to one of them (``cli/workers.py``), as a coin would: 20 clients connecting together
split 10/10 but as often 13/7, and a kept-alive connection stays where it landed, so
the thirteen clients of one worker wait on each other while the other worker's seven
find it idle. So a worker holding more than its share of the service's connections
(their number over N, rounded up; none while there are fewer than ``FEW`` a worker)
answers one request with ``Connection: close``: the client (any HTTP/1.1 client)
reads the whole answer, then opens a new connection for its next request, which the
kernel hashes again. One such answer per worker every ``PAUSE`` seconds at most,
until none holds more than its share (the workers' counts: ``runtime/demand.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..runtime.demand import Demand

PAUSE = 0.2
"""Seconds after a worker asked a client to reconnect before it asks another."""

FEW = 4
"""Connections per worker below which none is asked to reconnect: a few clients of an
otherwise idle service (2/0, 5/2) wait on nobody, and are left where they are."""

CLOSE = (b"connection", b"close")


class Connections:
    """The connections this process's server holds open (its set, once it exists)."""

    def __init__(self) -> None:
        self.of_server: Collection[object] = ()

    def __len__(self) -> int:
        return len(self.of_server)


class SpreadConnections:
    """ASGI middleware: a worker above its share of the connections asks one client
    to reconnect (``Connection: close`` on an answer)."""

    def __init__(
        self, app: ASGIApp, connections: Connections, demand: Demand, counter: int, workers: int
    ) -> None:
        self.app = app
        self.connections = connections
        self.demand = demand
        self.counter = counter
        self.workers = workers
        self._quiet_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_spreading(message: Message) -> None:
            if message["type"] == "http.response.start" and self._above_share(scope):
                message = {**message, "headers": [*message.get("headers", ()), CLOSE]}
            await send(message)

        await self.app(scope, receive, send_spreading)

    def _above_share(self, scope: Scope) -> bool:
        """Whether this answer should close its connection (the counts updated)."""
        held = len(self.connections)
        self.demand.hold(self.counter, held)
        now = time.monotonic()
        total = self.demand.connections
        if now < self._quiet_until or total < FEW * self.workers:
            return False
        if held <= math.ceil(total / self.workers):
            return False
        if CLOSE in scope["headers"]:
            return False  # the client closes it anyway
        self._quiet_until = now + PAUSE
        self.demand.hold(self.counter, held - 1)  # as it will be once the client has gone
        return True
