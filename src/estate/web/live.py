"""Live pages: one server-sent event stream per page, quiet while nothing changes.

Each page with live parts opens one ``EventSource`` (htmx's SSE extension); its
stream sends a named event per part (``event: run``, ``data:`` the part's HTML) when
what the part shows has changed. How often the server looks:

- every second while something the page watches is pending or running (a run's
  counters change in the database, written by the job);
- otherwise it sleeps until the service's bell rings (``jobs/bell.py``: a
  state-changing request succeeded, or a job started or ended, in this process or
  any other of ``estate serve --workers N``; :class:`SignalOnWrites` rings it for
  requests) and wakes every stream at once — a click on "collect" shows the new run
  at once, on every page open on any worker — or at most ``IDLE_SECONDS``, then
  looks once (for what rings no bell: a Celery worker on another host). A page left
  open costs one cheap query every ``IDLE_SECONDS``, nothing per second.

A stream ends after ``STREAM_SECONDS``; the browser reconnects by itself (and so a
server that stops is not held open by its pages).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..context import Context
from ..jobs.bell import Bell

ACTIVE_SECONDS = 1.0
IDLE_SECONDS = 30.0
STREAM_SECONDS = 600.0

Snapshot = tuple[Any, bool, Callable[[], dict[str, str]]]
"""What a page shows now: a cheap key (equal keys: nothing changed), whether anything
watched is active, and how to render its parts (event name → HTML)."""


class Signal:
    """Wakes every waiting stream of this process when the bell rings."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bump(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def bump_from_any_thread(self) -> None:
        """The bell's listener: rings come from the loop, job threads and pipe readers."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.bump)

    async def wait(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class SignalOnWrites:
    """ASGI middleware: a successful POST, PUT, PATCH or DELETE rings the bell."""

    def __init__(self, app: ASGIApp, bell: Bell) -> None:
        self.app, self.bell = app, bell

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.bell.ring()
            await send(message)

        await self.app(scope, receive, noting)


def _event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n\n"


def stream(request: Request, look: Callable[[Context], Snapshot]) -> StreamingResponse:
    """The page's event stream: ``look`` is called in a worker thread each time."""
    context: Context = request.app.state.context
    signal: Signal = request.app.state.live_signal

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last: Any = object()
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends:
            key, active, render = await run_in_threadpool(look, context)
            if key != last:
                parts = await run_in_threadpool(render)
                for name, html in parts.items():
                    yield _event(name, html)
                last = key
            if active:
                await asyncio.sleep(ACTIVE_SECONDS)
            else:
                await signal.wait(IDLE_SECONDS)
                await asyncio.sleep(0.2)  # let the write's transaction commit and its job start

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
