"""Admission: a few requests of a process work at once; the others wait their turn.

A request's work (authentication, its queries, the answer's JSON) runs in worker
threads that share one interpreter lock. Twenty requests let in at once take turns
on it every few milliseconds in no fair order: each one takes about twenty times its
own CPU to finish, and the unlucky ones far more (the p99 of ``bench/api.py`` under
20 clients was two to three times its median). Let in a few at a time and the rest wait in arrival
order: the same requests per second, each answered in about the time of the queue
before it, and no request's connection held while it waits for a thread (a pool of
15 connections and 40 threads could lock up for 30 s under 60 concurrent requests).

``ESTATE_API_CONCURRENCY`` slots (0: no admission). A request holds its slot until
its answer starts (a page's event stream then runs outside it), or for
``HOLD_LIMIT`` seconds at most: a slow upload or a slow plugin call gives its slot
back and goes on, so that no request waits behind one for longer than that.

It also counts the process's requests in the service's :class:`Demand`, from their
arrival (waiting included) to the start of their answer, admission or not: background
work steps aside while any are counted (``runtime/demand.py``).
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..runtime.demand import Demand

HOLD_LIMIT = 1.0
"""Seconds a request holds its slot at most; it then goes on without one."""


class Slots:
    """``count`` slots handed out in arrival order (an event loop's; not thread-safe)."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def take(self) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed over as it was cancelled
                self.give_back()
            else:
                self._waiting.remove(turn)
            raise

    def give_back(self) -> None:
        """The next waiter's turn, or a free slot when nobody waits."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiting)


class Admission:
    """ASGI middleware: at most ``slots`` HTTP requests work at once, in arrival order;
    each is counted in ``demand`` (this process's ``counter`` of it) until its answer
    starts."""

    def __init__(
        self,
        app: ASGIApp,
        slots: int,
        hold_limit: float = HOLD_LIMIT,
        demand: Demand | None = None,
        counter: int = 0,
    ) -> None:
        self.app = app
        self.slots = Slots(slots) if slots > 0 else None
        self.hold_limit = hold_limit
        self.demand = demand if demand is not None else Demand()
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        demand, counter = self.demand, self.counter
        demand.arrived(counter)
        counted = True

        def answered() -> None:
            nonlocal counted
            if counted:
                counted = False
                demand.answered(counter)

        async def send_answered(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered()
            await send(message)

        try:
            if self.slots is None:
                await self.app(scope, receive, send_answered)
            else:
                await self._admitted(self.slots, scope, receive, send_answered)
        finally:
            answered()

    async def _admitted(self, slots: Slots, scope: Scope, receive: Receive, send: Send) -> None:
        await slots.take()
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                timer.cancel()
                slots.give_back()

        timer = asyncio.get_running_loop().call_later(self.hold_limit, give_back)

        async def send_giving_back(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self.app(scope, receive, send_giving_back)
        finally:
            give_back()
