"""Demand: how many requests the service's processes are answering, so that background
work steps aside while there are any, and how many connections each holds, so that
the API workers can even them out (``api/balance.py``).

Niceness (:mod:`.niceness`) orders the service's own threads and its plugins, but a
collection's statements also run in the database server (PostgreSQL's processes,
which nothing here nices), and on SQLite each batch takes the database's one write lock
and rewrites pages the requests then read. So the ingest writer also waits between
two batches while requests are being answered: after a batch that took *t* seconds,
up to ``ratio * t`` (``ESTATE_BACKGROUND_YIELD``; 2 s at most), and it goes on the
moment none is left (``Context.step_aside``). A collection on an idle service never
waits; beside a steady stream of requests it works at most ``1 / (1 + ratio)`` of the
time. (The search indexer does not wait: ``jobs/indexer.py`` says why.)

Each process counts its own requests in a counter of its own, from their arrival
(waiting for admission included) to the start of their answer (``api/admission.py``;
an event stream's long life after that is not demand). With ``estate serve --workers
N`` the counters are shared memory, made by the primary before it starts the workers
(counter 0 is the primary's, *i* worker *i*'s) and read by the primary's jobs. One
writer per counter (its process's event loop) and readers that can take a figure a
moment old: no lock. A worker also writes how many connections it holds each time it
answers, which the others read to find their share.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import time

POLL = 0.005
"""Seconds between two looks at the demand while waiting."""

MAX_PAUSE = 2.0
"""Seconds one pause lasts at most, however long the work before it took."""


class Demand:
    """Per process of the service (``processes`` of them): its requests arrived and not
    yet answered, and the connections it holds open."""

    def __init__(self, processes: int = 1) -> None:
        self._requests = _counters(processes)
        self._connections = _counters(processes)

    def arrived(self, counter: int) -> None:
        self._requests[counter] += 1

    def answered(self, counter: int) -> None:
        self._requests[counter] -= 1

    def reset(self, counter: int) -> None:
        """Zero: its process died with requests counted, and is started again."""
        self._requests[counter] = 0
        self._connections[counter] = 0

    def hold(self, counter: int, connections: int) -> None:
        """Process ``counter`` holds ``connections`` open (it says so as it answers)."""
        self._connections[counter] = connections

    @property
    def connections(self) -> int:
        """Connections open, in every process (each as it last said)."""
        return sum(self._connections)

    @property
    def requests(self) -> int:
        """Requests in progress, in every process."""
        return sum(self._requests)

    def pause(self, worked: float, ratio: float) -> float:
        """After background work that took ``worked`` seconds: wait while requests are
        in progress, ``ratio * worked`` seconds at most (and ``MAX_PAUSE``). Returns the
        seconds waited (0.0 at once when no request is)."""
        budget = min(MAX_PAUSE, worked * ratio)
        started = time.monotonic()
        waited = 0.0
        while waited < budget and self.requests > 0:
            time.sleep(min(POLL, budget - waited))
            waited = time.monotonic() - started
        return waited


def _counters(processes: int) -> ctypes.Array[ctypes.c_int]:
    """One counter per process. Several processes: spawn's shared array, handed to the
    workers as they start. One (a process alone, a context without a service): plain
    memory, nothing to share and no shared-memory file made for it."""
    if processes > 1:
        return multiprocessing.get_context("spawn").RawArray(ctypes.c_int, processes)
    return (ctypes.c_int * 1)()
