"""Admission (api/admission.py): a few requests of a process work at once, the others
wait their turn in arrival order; a slot is given back when the answer starts, or
after ``hold_limit`` seconds; a request cancelled while it waits loses its turn and
one cancelled as it is handed a slot passes the slot on. Through the middleware with
real HTTP on loopback, and through ``estate serve`` under more concurrent requests than
it has threads or database connections."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from conftest import ADMIN_PASSWORD, BACKENDS, service_env
from estate.api.admission import Admission, Slots
from estate.config import Settings
from estate.runtime.demand import Demand
from factories import API
from served import serving


def test_slots_are_handed_out_in_arrival_order() -> None:
    async def scenario() -> list[int]:
        slots, served = Slots(1), []
        await slots.take()  # held by a first request

        async def request(number: int) -> None:
            await slots.take()
            served.append(number)
            slots.give_back()

        waiting = [asyncio.create_task(request(n)) for n in range(5)]
        await asyncio.sleep(0.05)
        assert slots.waiting == 5 and served == []
        slots.give_back()
        await asyncio.gather(*waiting)
        assert slots.free == 1 and slots.waiting == 0
        return served

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_a_cancelled_waiter_loses_its_turn_and_never_loses_a_slot() -> None:
    async def scenario() -> None:
        slots = Slots(1)
        await slots.take()
        gone = asyncio.create_task(slots.take())
        await asyncio.sleep(0.01)
        gone.cancel()  # a client that went away while it waited
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert slots.waiting == 0
        slots.give_back()
        assert slots.free == 1

        # Cancelled in the same turn of the loop as it is handed the slot: passed on.
        await slots.take()
        handed, next_one = asyncio.create_task(slots.take()), asyncio.create_task(slots.take())
        await asyncio.sleep(0.01)
        slots.give_back()  # to `handed`, which is cancelled before it runs
        handed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handed
        await asyncio.wait_for(next_one, 1)
        slots.give_back()
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())


def ticking(every: float) -> Callable[[Request], Awaitable[StreamingResponse]]:
    """A route streaming three lines ``tick``, ``every`` seconds apart."""

    async def stream(request: Request) -> StreamingResponse:
        async def body() -> Any:
            for _ in range(3):
                yield b"tick\n"
                await asyncio.sleep(every)

        return StreamingResponse(body())

    return stream


@pytest.fixture
def slow_app() -> Iterator[str]:
    """Admission (one slot, 0.3 s hold limit) in front of routes that take their time,
    served by uvicorn on loopback: its URL."""

    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(float(request.query_params["seconds"]))
        return JSONResponse({"slept": request.query_params["seconds"]})

    inner = Starlette(routes=[Route("/slow", slow), Route("/stream", ticking(0.5))])
    config = uvicorn.Config(
        Admission(inner, slots=1, hold_limit=0.3), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_requests_wait_their_turn_and_a_slow_one_gives_its_slot_back(slow_app: str) -> None:
    async def scenario() -> list[float]:
        async with httpx.AsyncClient(base_url=slow_app, timeout=10) as client:

            async def timed(path: str) -> float:
                started = time.perf_counter()
                assert (await client.get(path)).status_code == 200
                return time.perf_counter() - started

            # Three quick requests after a slow one, one slot: they wait for the slow
            # one's hold limit (0.3 s), then one after the other (0.1 s each).
            slow = asyncio.create_task(timed("/slow?seconds=2"))
            await asyncio.sleep(0.05)
            quick = [asyncio.create_task(timed("/slow?seconds=0.1")) for _ in range(3)]
            done = await asyncio.gather(*quick)
            assert slow.done() is False  # they did not wait for it to end
            await slow
            return done

    done = sorted(asyncio.run(scenario()))
    assert 0.3 < done[0] < 1.2, done
    assert done[2] - done[0] > 0.15, done  # in turn, not at once
    assert done[2] < 1.8, done


def test_a_streamed_answer_gives_its_slot_back_when_it_starts(slow_app: str) -> None:
    async def scenario() -> float:
        async with (
            httpx.AsyncClient(base_url=slow_app, timeout=10) as client,
            client.stream("GET", "/stream") as streamed,
        ):
            assert streamed.status_code == 200
            started = time.perf_counter()
            assert (await client.get("/slow?seconds=0")).status_code == 200
            spent = time.perf_counter() - started
            assert [line async for line in streamed.aiter_lines()] == ["tick"] * 3
            return spent

    assert asyncio.run(scenario()) < 0.25  # never waited on the stream's 1.5 s


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_service_answers_more_concurrent_requests_than_threads_and_connections(
    backend: str, request: pytest.FixtureRequest, environments_dir: Path, tmp_path: Path
) -> None:
    """120 requests at once: more than the 40 worker threads and the database pool's
    connections together (15 on SQLite, 20 on PostgreSQL). Let in at once, requests
    holding a connection waited for a thread held by requests waiting for a
    connection: 30 s, then 500s. Admitted a few at a time, all answer."""
    env = service_env(backend, request, environments_dir)
    with serving(tmp_path, **env) as service:

        async def many() -> list[int]:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(
                base_url=service.url,
                auth=("admin", ADMIN_PASSWORD),
                timeout=60,
                limits=limits,
            ) as client:
                answers = await asyncio.gather(
                    *(client.get(f"{API}/resources/", params={"page_size": 5}) for _ in range(120))
                )
            return [answer.status_code for answer in answers]

        started = time.perf_counter()
        codes = asyncio.run(many())
        spent = time.perf_counter() - started
    assert codes == [200] * 120
    assert spent < 25, spent
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "QueuePool limit" not in log


@pytest.mark.parametrize(
    ("database_url", "setting", "admitted"),
    [
        (None, None, 2),  # the embedded SQLite
        ("sqlite:////tmp/estate.db", None, 2),
        ("postgresql+psycopg://estate@127.0.0.1/estate", None, 8),
        ("postgresql+psycopg://estate@127.0.0.1/estate", 3, 3),
        ("sqlite:////tmp/estate.db", 0, 0),  # no admission
    ],
)
def test_the_default_admission_follows_the_database(
    tmp_path: Path, database_url: str | None, setting: int | None, admitted: int
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, api_concurrency=setting)
    assert settings.admitted_requests == admitted


@pytest.mark.parametrize("slots", [1, 0])
def test_a_request_counts_in_the_demand_from_its_arrival_to_its_answer(slots: int) -> None:
    """Waiting for admission included; a streamed answer stops counting as it starts
    (an open page's event stream is not work in progress)."""
    demand = Demand(2)
    seen: list[int] = []

    async def slow(request: Request) -> JSONResponse:
        seen.append(demand.requests)
        await asyncio.sleep(float(request.query_params["seconds"]))
        return JSONResponse({})

    inner = Starlette(routes=[Route("/slow", slow), Route("/stream", ticking(0.2))])
    app = Admission(inner, slots=slots, demand=demand, counter=1)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            first = asyncio.create_task(client.get("/slow?seconds=0.3"))
            second = asyncio.create_task(client.get("/slow?seconds=0.2"))
            await asyncio.sleep(0.1)
            assert demand.requests == 2  # one at work, one at work or waiting its turn
            assert (await first).status_code == 200 and (await second).status_code == 200
            assert demand.requests == 0
            async with client.stream("GET", "/stream") as streamed:
                assert streamed.status_code == 200
                assert demand.requests == 0
                assert [line async for line in streamed.aiter_lines()] == ["tick"] * 3

    asyncio.run(scenario())
    # With one slot the second request ran once the first one's answer had started;
    # without admission it ran at once, beside the first.
    assert seen == ([1, 1] if slots else [1, 2]), seen
