"""Plugin runtime cost: in-process vs child-process collection, and call latency.

Prints one JSON line. Collection throughput of N resources from the simulated
plugin is measured twice in the same run, each with the same per-resource host
work the service does (``to_record``: schema validation, column values, hash):

- in process: the SDK's ``make_provider``, ``connect``, iterate ``collect()``, then
  ``to_dict()`` and ``to_record`` on each resource (``to_record`` encodes the dict to
  JSON bytes first, as the child does before sending it);
- out of process: a real ``PluginProcess`` child; the child does ``to_dict()`` and
  the JSON encoding, the host decodes each ``collect.batch`` and runs ``to_record``
  on every resource, as ``estate.jobs.collect`` does.

Also the cost of confinement (``estate.runtime.confinement``): start and ``health``
round trip with and without it, interleaved in the same run. And the round-trip latency of ``health`` on one running child, and of a connection
test (``validate``) through the supervisor's long-lived process against a process
started for the call, as a per-call design would. The plugin runs in the
environment the service gives it (the shared SDK environment). No database.

    python bench/runtime.py --resources 100000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from estate.config import Settings
from estate.inventory.records import to_record
from estate.runtime.environments import PluginEnvironment, environment_at
from estate.runtime.host import PluginProcess
from estate.runtime.supervisor import ProcessSpec, Supervisor
from inventory_providers.loader import load_class
from inventory_providers.testing import make_provider

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "plugins" / "simulated" / "datacenter"
CLASS_PATH = "provider.SimulatedDatacenterProvider"
BATCH_SIZE = 1000  # the service's default (Settings.batch_size)


class Run(NamedTuple):
    """One collection: wall-clock seconds and CPU seconds spent by each process."""

    seconds: float
    host_cpu: float
    child_cpu: float = 0.0
    start_seconds: float = 0.0


def in_process(count: int) -> Run:
    """Collect and validate ``count`` resources inside this process."""
    cls = load_class(PLUGIN_DIR, CLASS_PATH)
    allowed = frozenset(cls.supported_resource_types)
    cpu = time.process_time()
    started = time.perf_counter()
    provider = make_provider(cls, connection_config={"resources": count})
    seen = 0
    with provider:
        for item in provider.collect():
            to_record(item.to_dict(), allowed)
            seen += 1
    seconds = time.perf_counter() - started
    _check(seen, count, "in-process")
    return Run(seconds, time.process_time() - cpu)


def plugin_environment() -> PluginEnvironment:
    """The interpreter the service gives a plugin without requirements: the shared
    SDK-only environment (with the SDK's orjson accelerator)."""
    if os.environ.get("BENCH_SERVICE_PYTHON") == "1":
        return PluginEnvironment(plugin_dir=PLUGIN_DIR)
    settings = Settings(data_dir=Path(tempfile.gettempdir()) / "estate-bench-runtime")
    return environment_at(PLUGIN_DIR, {}, settings)


def supervised_validate(calls: int) -> tuple[list[float], list[float]]:
    """Milliseconds per connection test: through the supervisor's warm process, and
    cold (start, configure, validate, stop) as a process per call would cost."""
    configure = {"provider": {"name": "bench"}, "credential": {"password": "simulated"}}
    spec = ProcessSpec(
        label="bench",
        plugin_key="simulated:datacenter",
        environment=plugin_environment(),
        class_path=CLASS_PATH,
        fingerprint="bench",
        configure=configure,
    )
    supervisor = Supervisor()
    warm, cold = [], []
    try:
        supervisor.call("bench", spec, "validate", {})
        for _ in range(calls):
            before = time.perf_counter()
            supervisor.call("bench", spec, "validate", {})
            warm.append((time.perf_counter() - before) * 1000)
    finally:
        supervisor.close()
    for _ in range(max(3, calls // 50)):
        before = time.perf_counter()
        with PluginProcess(spec.environment, CLASS_PATH) as process:
            process.call("configure", configure)
            process.call("validate", {})
        cold.append((time.perf_counter() - before) * 1000)
    return sorted(warm), sorted(cold)


def start_process() -> PluginProcess:
    process = PluginProcess(plugin_environment(), CLASS_PATH)
    process.start()
    return process


def out_of_process(count: int, *, validate: bool = True) -> Run:
    """``configure`` + ``collect`` through a child; its start is timed apart.

    Without ``validate`` the host only counts what arrives: the rate is then the
    plugin's own (generate, ``to_dict``, encode, send), the ceiling of any ingest of it.
    """
    allowed = frozenset(load_class(PLUGIN_DIR, CLASS_PATH).supported_resource_types)
    seen = 0

    def on_notification(method: str, params: dict[str, Any]) -> None:
        nonlocal seen
        if method != "collect.batch":
            return
        if validate:
            for item in params["resources"]:
                to_record(item, allowed)
        seen += len(params["resources"])

    started = time.perf_counter()
    process = start_process()
    try:
        child_cpu = _cpu_of(process)
        cpu = time.process_time()
        running = time.perf_counter()
        process.call(
            "configure",
            {"provider": {"name": "bench"}, "credential": {"extra": {"resources": count}}},
        )
        result = process.call(
            "collect", {"batch_size": BATCH_SIZE}, timeout=600, on_notification=on_notification
        )
        seconds = time.perf_counter() - running
        host_cpu = time.process_time() - cpu
        child_cpu = _cpu_of(process) - child_cpu
    finally:
        process.stop()
    _check(seen, count, "out-of-process")
    _check(result["count"], count, "out-of-process (plugin's count)")
    return Run(seconds, host_cpu, child_cpu, running - started)


def _cpu_of(process: PluginProcess) -> float:
    """User + system CPU seconds so far of the child's whole process group (Linux
    ``/proc``; 0 elsewhere): confined, the plugin is the launcher's grandchild."""
    assert process.process is not None
    group = process.process.pid
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command name: pgrp is the 3rd, utime and
            # stime the 12th and 13th.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def health_latencies(calls: int, warmup: int) -> list[float]:
    """Microseconds per ``health`` round trip on one running child."""
    process = start_process()
    try:
        for _ in range(warmup):
            process.call("health", {})
        latencies = []
        clock = time.perf_counter_ns
        for _ in range(calls):
            before = clock()
            process.call("health", {})
            latencies.append((clock() - before) / 1000)
    finally:
        process.stop()
    return latencies


def confinement_cost(starts: int, calls: int) -> dict[str, float]:
    """Start (to the end of the handshake) and ``health`` round trip, confined and not.

    Interleaved in the same run, so load on a shared machine hits both sides alike.
    """
    confined = plugin_environment()
    unconfined = replace(confined, confinement=replace(confined.confinement, enabled=False))
    start_ms: dict[bool, list[float]] = {True: [], False: []}
    health_us: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(starts):
        for is_confined, environment in ((True, confined), (False, unconfined)):
            process = PluginProcess(environment, CLASS_PATH)
            before = time.perf_counter()
            process.start()
            start_ms[is_confined].append((time.perf_counter() - before) * 1000)
            try:
                for _ in range(calls // starts):
                    before_call = time.perf_counter_ns()
                    process.call("health", {})
                    health_us[is_confined].append((time.perf_counter_ns() - before_call) / 1000)
            finally:
                process.stop()
    figures: dict[str, float] = {}
    for is_confined, name in ((True, "confined"), (False, "unconfined")):
        figures[f"start_{name}_p50_ms"] = round(statistics.median(start_ms[is_confined]), 1)
        figures[f"health_{name}_p50_us"] = round(statistics.median(health_us[is_confined]), 1)
    figures["confinement_start_cost_ms"] = round(
        figures["start_confined_p50_ms"] - figures["start_unconfined_p50_ms"], 1
    )
    figures["confinement_health_cost_us"] = round(
        figures["health_confined_p50_us"] - figures["health_unconfined_p50_us"], 1
    )
    return figures


def _check(seen: int, count: int, what: str) -> None:
    if seen != count:
        raise SystemExit(f"{what}: expected {count} resources, got {seen}")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per throughput figure")
    parser.add_argument("--health-calls", type=int, default=5000)
    parser.add_argument("--health-warmup", type=int, default=200)
    parser.add_argument("--starts", type=int, default=20, help="starts per confinement figure")
    parser.add_argument(
        "--confinement-only", action="store_true", help="only the cost of confinement"
    )
    args = parser.parse_args()
    if args.confinement_only:
        cost = confinement_cost(args.starts, args.health_calls)
        print(json.dumps({"bench": "runtime-confinement", **cost, "cpu_count": os.cpu_count()}))
        return
    count = args.resources
    loadavg = os.getloadavg()[0]
    # Interleaved, so that a burst of load on a shared machine hits both sides.
    inside: list[Run] = []
    outside: list[Run] = []
    for _ in range(args.repeat):
        inside.append(in_process(count))
        outside.append(out_of_process(count))
    latencies = sorted(health_latencies(args.health_calls, args.health_warmup))
    warm, cold = supervised_validate(500)
    best_in = min(inside)
    best_out = min(outside)
    in_per_s = count / best_in.seconds
    out_per_s = count / best_out.seconds
    in_cpu = min(r.host_cpu for r in inside)
    out_cpu = min(r.host_cpu + r.child_cpu for r in outside)
    figures = {
        "bench": "runtime",
        "resources": count,
        "batch_size": BATCH_SIZE,
        "in_process_per_s": round(in_per_s),
        "out_of_process_per_s": round(out_per_s),
        "ratio": round(out_per_s / in_per_s, 3),
        "in_process_runs_per_s": [round(count / r.seconds) for r in inside],
        "out_of_process_runs_per_s": [round(count / r.seconds) for r in outside],
        "out_of_process_start_s": round(min(r.start_seconds for r in outside), 3),
        "out_of_process_with_start_per_s": round(
            max(count / (r.seconds + r.start_seconds) for r in outside)
        ),
        # CPU per resource does not depend on how busy the machine is, nor on the two
        # processes running in parallel; cpu_ratio < 1 is the true cost of the boundary.
        "in_process_cpu_us_per_resource": round(in_cpu / count * 1e6, 2),
        "out_of_process_cpu_us_per_resource": round(out_cpu / count * 1e6, 2),
        "out_of_process_host_cpu_us_per_resource": round(best_out.host_cpu / count * 1e6, 2),
        "out_of_process_child_cpu_us_per_resource": round(best_out.child_cpu / count * 1e6, 2),
        "cpu_ratio": round(in_cpu / out_cpu, 3),
        "work_per_resource": (
            "in: to_dict, to_record(dict) = encode+validate+hash; "
            "out: child to_dict+orjson, host decode+to_record(raw) = validate+hash"
        ),
        "health_calls": len(latencies),
        "health_p50_us": round(_percentile(latencies, 0.50), 1),
        "health_p99_us": round(_percentile(latencies, 0.99), 1),
        "health_mean_us": round(statistics.fmean(latencies), 1),
        "health_max_us": round(latencies[-1], 1),
        "connection_test_warm_p50_ms": round(_percentile(warm, 0.5), 3),
        "connection_test_warm_p99_ms": round(_percentile(warm, 0.99), 3),
        "connection_test_cold_p50_ms": round(_percentile(cold, 0.5), 1),
        **confinement_cost(args.starts, args.health_calls),
        "connection_test_cold_over_warm": round(_percentile(cold, 0.5) / _percentile(warm, 0.5), 1),
        "cpu_count": os.cpu_count(),
        "loadavg_1m": round(loadavg, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
