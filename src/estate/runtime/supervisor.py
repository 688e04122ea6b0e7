"""Long-lived plugin processes for short calls, kept healthy between them.

Collections start a process of their own per run (see ``jobs/collect.py``): a run is
long, may hold a lot of memory, and ends clean with its process. Short calls —
``validate`` (connection tests), ``health`` and the plugin's API routes, later the
lifecycle actions — go to a process that stays up between calls, so they answer in
microseconds instead of paying a process start (about 100 ms) each time.

The supervisor keeps one process per *slot*: a provider (configured once with that
provider's record and credential) or a plugin version (unconfigured, for API routes).
A slot's ``fingerprint`` (plugin version, configuration) is given with every call;
when it changes — a new version was uploaded, the provider was edited — the old
process is stopped and the next one starts from the new spec: hot-load without a
restart of the service.

Supervision, per slot:

- a start timeout, per-call timeouts, cancellation (``$/cancel``, then a kill);
- a health ping every ``health_interval`` seconds to each idle process; one that does
  not answer within ``health_timeout`` is killed and counts as a crash;
- a crash (exit, hang, garbage on the socket) is restarted with exponential backoff
  (``backoff_base`` doubling up to ``backoff_max``), eagerly by the health thread;
- ``breaker_failures`` crashes within ``breaker_window`` seconds open the crash-loop
  breaker: no restart for ``breaker_cooldown`` seconds, calls fail at once with a
  message saying so; a new fingerprint (e.g. a fixed version) closes it;
- an idle process is stopped after ``idle_timeout`` seconds; the next call starts it;
- on ``close`` every process group is killed: nothing outlives the service.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..redaction import escaped, mask
from .environments import PluginEnvironment
from .errors import PluginCallError, PluginRuntimeError
from .host import LogSink, Notification, PluginProcess

logger = logging.getLogger(__name__)

LOG_TAIL = 200
MAX_CALLER_WAIT = 5.0  # a call waits this long at most for a restart's backoff


class PluginUnavailable(PluginRuntimeError):
    """The crash-loop breaker is open: the plugin is not started again for a while."""

    kind = "unavailable"


@dataclass(frozen=True)
class ProcessSpec:
    """What a slot runs: a plugin version and, for a provider, its ``configure`` params."""

    label: str
    plugin_key: str
    environment: PluginEnvironment
    class_path: str
    fingerprint: str
    configure: dict[str, Any] | None = field(default=None, repr=False)
    log_level: str = "info"
    # Masked in the process's log (from ``redaction.maskable``).
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class SupervisorPolicy:
    start_timeout: float = 30.0
    call_timeout: float = 60.0
    health_interval: float = 30.0
    health_timeout: float = 5.0
    idle_timeout: float = 600.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    breaker_failures: int = 5
    breaker_window: float = 60.0
    breaker_cooldown: float = 300.0
    cancel_grace: float = 5.0


class _Slot:
    def __init__(self, key: Hashable, spec: ProcessSpec) -> None:
        self.key = key
        self.spec = spec
        self.lock = threading.Lock()
        self.process: PluginProcess | None = None
        self.crashes: deque[float] = deque()
        self.consecutive = 0
        self.restarts = 0
        self.starts = 0
        self.retry_at = 0.0
        self.breaker_until = 0.0
        self.last_used = time.monotonic()
        self.last_error: str | None = None
        self.health_ms: float | None = None
        self.health_at: float | None = None
        self.log: deque[tuple[float, str, str]] = deque(maxlen=LOG_TAIL)
        # The caller in flight that also wants the process's lines (an action run's log).
        self.tee: LogSink | None = None

    def on_log(self, level: str, line: str) -> None:
        line = escaped(mask(line, self.spec.secrets))[:2000]
        self.log.append((time.time(), level, line))
        tee = self.tee
        if tee is not None:
            tee(level, line)
        logger.debug("%s [%s] %s", self.spec.label, level, line)


class Supervisor:
    """Keeps plugin processes up for short calls; thread-safe."""

    def __init__(self, policy: SupervisorPolicy | None = None) -> None:
        self.policy = policy or SupervisorPolicy()
        self._slots: dict[Hashable, _Slot] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Start the health thread (calls work without it, unsupervised between calls)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch, name="estate-plugin-supervisor", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the health thread and every process (their whole process groups)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.health_timeout + 5)
            self._thread = None
        with self._lock:
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            with slot.lock:
                self._stop_process(slot)

    def discard(self, key: Hashable) -> None:
        """Stop the slot's process and forget it (its provider or version is gone)."""
        with self._lock:
            slot = self._slots.pop(key, None)
        if slot is not None:
            with slot.lock:
                self._stop_process(slot)

    def discard_plugin(self, plugin_key: str) -> None:
        """Stop every process of the plugin ``plugin_key`` (its versions were deleted)."""
        with self._lock:
            keys = [k for k, slot in self._slots.items() if slot.spec.plugin_key == plugin_key]
        for key in keys:
            self.discard(key)

    # -- calls -------------------------------------------------------------------

    def call(
        self,
        key: Hashable,
        spec: ProcessSpec,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float | None = None,
        on_notification: Notification | None = None,
        on_log: LogSink | None = None,
    ) -> Any:
        """Call ``method`` on the slot's process, starting (or replacing) it as needed.

        ``on_log`` also gets the lines the process logs during the call (masked).

        Raises ``PluginRuntimeError``: ``PluginCallError`` when the plugin answered with
        an error (the process stays up), ``PluginUnavailable`` while the breaker is
        open, or the start/crash/timeout error that took the process down.
        """
        slot = self._slot(key, spec)
        with slot.lock:
            slot.last_used = time.monotonic()
            if slot.spec.fingerprint != spec.fingerprint:
                self._stop_process(slot)
                self._reset(slot)
            slot.spec = spec
            slot.tee = on_log
            try:
                return self._call(slot, method, params, timeout, on_notification)
            finally:
                slot.tee = None

    def _call(
        self,
        slot: _Slot,
        method: str,
        params: dict[str, Any],
        timeout: float | None,
        on_notification: Notification | None,
    ) -> Any:
        """``call`` under the slot's lock."""
        process = self._ensure(slot, wait=True)
        try:
            result = process.call(
                method,
                params,
                timeout if timeout is not None else self.policy.call_timeout,
                on_notification=on_notification,
            )
        except PluginCallError:
            slot.consecutive = 0  # it answered: alive and well
            raise
        except PluginRuntimeError as exc:
            self._crashed(slot, f"{method}: {exc}")
            raise
        finally:
            slot.last_used = time.monotonic()
        slot.consecutive = 0
        return result

    def cancel(self, key: Hashable) -> bool:
        """Cancel the call in flight on the slot's process (``$/cancel``, then a kill)."""
        with self._lock:
            slot = self._slots.get(key)
        process = slot.process if slot is not None else None
        return process is not None and process.cancel(self.policy.cancel_grace)

    # -- status --------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """One entry per slot: state, pid, restarts, health, breaker, last error, log tail."""
        now = time.monotonic()
        with self._lock:
            slots = list(self._slots.values())
        out = []
        for slot in slots:
            process = slot.process
            running = process is not None and process.alive()
            if now < slot.breaker_until:
                state = "broken"
            elif running:
                state = "running"
            elif now < slot.retry_at:
                state = "backoff"
            else:
                state = "stopped"
            out.append(
                {
                    "key": slot.key,
                    "plugin_key": slot.spec.plugin_key,
                    "label": slot.spec.label,
                    "state": state,
                    "pid": process.pid if running and process is not None else None,
                    "starts": slot.starts,
                    "restarts": slot.restarts,
                    "recent_crashes": len(slot.crashes),
                    "retry_in": max(0.0, slot.retry_at - now) if state == "backoff" else None,
                    "breaker_open_for": max(0.0, slot.breaker_until - now)
                    if state == "broken"
                    else None,
                    "health_ms": slot.health_ms,
                    "idle_seconds": now - slot.last_used,
                    "last_error": slot.last_error,
                    "log": [
                        {"time": t, "level": level, "message": line}
                        for t, level, line in list(slot.log)[-20:]
                    ],
                }
            )
        return out

    def pids(self) -> list[int]:
        """Process ids of the slots' processes."""
        with self._lock:
            slots = list(self._slots.values())
        return [
            pid
            for slot in slots
            if slot.process is not None and (pid := slot.process.pid) is not None
        ]

    # -- health ----------------------------------------------------------------------

    def check(self) -> None:
        """One supervision pass: ping idle processes, restart crashed ones, stop idle ones."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if self._stop.is_set():
                return
            if not slot.lock.acquire(blocking=False):
                continue  # a call is in flight; it has its own timeout
            try:
                self._check(slot)
            finally:
                slot.lock.release()

    def _check(self, slot: _Slot) -> None:
        now = time.monotonic()
        process = slot.process
        if process is not None and now - slot.last_used >= self.policy.idle_timeout:
            self._stop_process(slot)
            slot.on_log("info", f"stopped after {self.policy.idle_timeout:g} s idle")
            return
        if process is not None and not process.alive():
            self._crashed(slot, f"process exited{_exit_code(process)}")
            process = None
        if process is None:
            if slot.consecutive and now >= slot.retry_at and now >= slot.breaker_until:
                # Restart a crashed process with backoff; a failed start is counted.
                with contextlib.suppress(PluginRuntimeError):
                    self._ensure(slot, wait=False)
            return
        started = time.perf_counter()
        try:
            process.call("health", {}, self.policy.health_timeout)
        except PluginRuntimeError as exc:
            self._crashed(slot, f"health check failed: {exc}")
            return
        slot.health_ms = (time.perf_counter() - started) * 1000
        slot.health_at = time.time()
        slot.consecutive = 0

    def _watch(self) -> None:
        while not self._stop.wait(self._next_pass()):
            try:
                self.check()
            except Exception:  # the supervisor thread must outlive any single failure
                logger.exception("plugin supervision pass failed")

    def _next_pass(self) -> float:
        """Seconds to the next pass: the health interval, or sooner for a due restart."""
        wait = self.policy.health_interval
        now = time.monotonic()
        with self._lock:
            for slot in self._slots.values():
                if slot.process is None and slot.consecutive:
                    due = max(slot.retry_at, slot.breaker_until)
                    wait = min(wait, max(due - now, 0.05))
        return wait

    # -- internals -------------------------------------------------------------------

    def _slot(self, key: Hashable, spec: ProcessSpec) -> _Slot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot(key, spec)
            return slot

    def _ensure(self, slot: _Slot, *, wait: bool) -> PluginProcess:
        """The slot's running process, started now if needed (the slot lock is held)."""
        process = slot.process
        if process is not None and process.alive():
            return process
        if process is not None:
            self._crashed(slot, f"process exited{_exit_code(process)}")
        self._await_restart(slot, wait=wait)
        process = self._start(slot)
        if slot.spec.configure is not None:
            self._configure(slot, process, slot.spec.configure)
        slot.process = process
        return process

    def _await_restart(self, slot: _Slot, *, wait: bool) -> None:
        """Raise ``PluginUnavailable`` while the breaker is open, or while the backoff
        runs longer than a caller may wait; otherwise sleep out the backoff."""
        now = time.monotonic()
        if now < slot.breaker_until:
            raise PluginUnavailable(
                f"{slot.spec.label} crashed {len(slot.crashes)} times within "
                f"{self.policy.breaker_window:g} s and is not restarted for another "
                f"{slot.breaker_until - now:.0f} s (last error: {slot.last_error}); "
                "see its log, then fix its configuration or upload a fixed version"
            )
        if now < slot.retry_at:
            if not wait or slot.retry_at - now > MAX_CALLER_WAIT:
                raise PluginUnavailable(
                    f"{slot.spec.label} crashed (last error: {slot.last_error}); "
                    f"it restarts in {slot.retry_at - now:.1f} s, try again then"
                )
            time.sleep(slot.retry_at - now)

    def _start(self, slot: _Slot) -> PluginProcess:
        """A new process for the slot, started; a failed start counts as a crash."""
        spec = slot.spec
        process = PluginProcess(
            spec.environment,
            spec.class_path,
            on_log=slot.on_log,
            start_timeout=self.policy.start_timeout,
            call_timeout=self.policy.call_timeout,
            log_level=spec.log_level,
        )
        if slot.starts:
            slot.restarts += 1
        slot.starts += 1
        try:
            process.start()
        except PluginRuntimeError as exc:
            self._crashed(slot, f"start: {exc}")
            raise
        return process

    def _configure(self, slot: _Slot, process: PluginProcess, params: dict[str, Any]) -> None:
        """``configure`` the new process; a plugin that refuses it has not crashed."""
        try:
            process.call("configure", params)
        except PluginCallError:
            process.stop()
            raise
        except PluginRuntimeError as exc:
            process.stop()
            self._crashed(slot, f"configure: {exc}")
            raise

    def _crashed(self, slot: _Slot, reason: str) -> None:
        """Count a crash: kill what is left, schedule the restart, maybe open the breaker."""
        self._stop_process(slot)
        now = time.monotonic()
        policy = self.policy
        reason = mask(reason, slot.spec.secrets)
        slot.last_error = reason
        slot.crashes.append(now)
        while slot.crashes and slot.crashes[0] < now - policy.breaker_window:
            slot.crashes.popleft()
        slot.consecutive += 1
        delay = min(policy.backoff_base * 2 ** (slot.consecutive - 1), policy.backoff_max)
        slot.retry_at = now + delay
        slot.on_log("error", f"{reason}; restart in {delay:g} s")
        if len(slot.crashes) >= policy.breaker_failures:
            slot.breaker_until = now + policy.breaker_cooldown
            slot.on_log(
                "error",
                f"crash loop: {len(slot.crashes)} crashes within {policy.breaker_window:g} s; "
                f"not restarted for {policy.breaker_cooldown:g} s",
            )
            logger.error("plugin %s is crash-looping: %s", slot.spec.label, reason)

    def _reset(self, slot: _Slot) -> None:
        slot.crashes.clear()
        slot.consecutive = 0
        slot.retry_at = slot.breaker_until = 0.0
        slot.last_error = None

    def _stop_process(self, slot: _Slot) -> None:
        process, slot.process = slot.process, None
        if process is not None:
            process.stop(grace=1.0)


def _exit_code(process: PluginProcess) -> str:
    code = process.process.poll() if process.process is not None else None
    if code is None:
        return ""
    if code < 0:
        return f" (killed by signal {signal.Signals(-code).name})"
    return f" with code {code}"


__all__ = [
    "LogSink",
    "PluginUnavailable",
    "ProcessSpec",
    "Supervisor",
    "SupervisorPolicy",
]
