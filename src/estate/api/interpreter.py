"""The interpreter of a process that answers requests, tuned once start-up is done.

Measured with ``bench/api.py`` (docs/benchmarks.md, "The interpreter of an API process"):

- **The interpreter lock's switch interval**, 5 ms by default: a thread that wants the
  lock waits that long before it asks the thread holding it to let go. A request hops
  between the event loop and worker threads several times, and each hop could wait
  the whole interval behind another request's work: under 20 clients two processes
  used one core of two and answered 150 requests/s. At 1 ms they answered 268/s,
  p99 177 ms instead of 214 ms, with no collection beside them; with one, 0.5 ms
  gave p99 276 ms against 300 ms at 1 ms, so 0.5 ms it is.
- **Start-up's objects frozen** (``gc.freeze``): a full garbage collection walks every
  object the collector tracks; with start-up's ~190,000 among them (modules, the app,
  its routes and models) one took 150 to 320 ms under load, every few seconds, and
  stopped the whole process meanwhile: the slowest answers were requests waiting on it.
  Frozen objects are never collected as cycles, and start-up's live as long as the
  process does.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL = 0.0005
"""Seconds a thread runs before another waiting for the interpreter lock gets it."""


def tune_for_requests() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()
