"""Demand (runtime/demand.py): the requests the service's processes are answering,
counted in shared memory, and the pause background work takes while there are any."""

from __future__ import annotations

import multiprocessing
import threading
import time

from estate.runtime.demand import MAX_PAUSE, Demand


def test_a_pause_ends_at_once_when_no_request_is_in_progress() -> None:
    demand = Demand()
    started = time.monotonic()
    assert demand.pause(5.0, ratio=1.0) == 0.0
    assert time.monotonic() - started < 0.05


def test_a_pause_lasts_the_ratio_of_the_work_while_requests_are_answered() -> None:
    demand = Demand(2)
    demand.arrived(1)
    waited = demand.pause(0.1, ratio=2.0)
    assert 0.2 <= waited < 0.4, waited
    assert demand.pause(0.1, ratio=0.0) == 0.0  # no ratio, no pause
    started = time.monotonic()
    assert MAX_PAUSE <= demand.pause(60.0, ratio=1.0) < MAX_PAUSE + 0.3  # capped
    assert time.monotonic() - started < MAX_PAUSE + 0.3


def test_a_pause_ends_when_the_last_request_is_answered() -> None:
    demand = Demand()
    demand.arrived(0)
    demand.arrived(0)
    answer = threading.Timer(0.1, lambda: (demand.answered(0), demand.answered(0)))
    answer.start()
    waited = demand.pause(3.0, ratio=1.0)
    answer.join()
    assert 0.1 <= waited < 0.5, waited
    assert demand.requests == 0


def test_the_counters_are_one_per_process_and_shared_with_the_processes_started() -> None:
    demand = Demand(3)
    spawn = multiprocessing.get_context("spawn")
    for counter in (1, 2, 2):  # a worker process counts a request in its own counter
        child = spawn.Process(target=Demand.arrived, args=(demand, counter))
        child.start()
        child.join(30)
        assert child.exitcode == 0
    assert demand.requests == 3
    child = spawn.Process(target=Demand.answered, args=(demand, 2))
    child.start()
    child.join(30)
    assert demand.requests == 2
    demand.reset(1)  # its process died counting one, and starts again
    demand.reset(2)
    assert demand.requests == 0
