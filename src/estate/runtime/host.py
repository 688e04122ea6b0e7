"""Run one plugin as a child process and talk to it over an inherited socket pair.

The child gets one end of a ``socketpair`` (``--fd N``); its stdout and stderr are
read line by line into the job's log, so a stray ``print`` never corrupts the channel.
The child runs in its own process group, which is killed when the host stops it, and
confined (``confinement.launch``): in a PID namespace that dies with it, so nothing a
plugin starts outlives its job, not even a ``setsid`` daemon.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from inventory_providers.protocol import CANCEL_METHOD, PROTOCOL_VERSIONS

from .confinement import Launch, launch
from .environments import PluginEnvironment
from .errors import (
    PluginCallError,
    PluginExited,
    PluginProtocolError,
    PluginRuntimeError,
    PluginStartError,
    PluginTimeout,
)
from .niceness import group_as_caller
from .protocol import LineReader, notification, request

logger = logging.getLogger(__name__)

LogSink = Callable[[str, str], None]
"""Receives ``(level, line)`` for every log line of the plugin."""

Notification = Callable[[str, dict[str, Any]], None]

# A plugin's traceback is kept as one log line (run logs cut lines at 2,000 characters).
MAX_TRACEBACK_CHARS = 2000


class PluginProcess:
    """One running plugin. Use as a context manager: it is always stopped on exit."""

    def __init__(
        self,
        environment: PluginEnvironment,
        class_path: str,
        *,
        on_log: LogSink | None = None,
        start_timeout: float = 30.0,
        call_timeout: float = 60.0,
        log_level: str = "info",
    ) -> None:
        self.environment = environment
        self.class_path = class_path
        self.on_log = on_log or (lambda level, line: None)
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._reader: LineReader | None = None
        self._next_id = 0
        self._pumps: list[threading.Thread] = []
        # Why the channel cannot be trusted any more (a call broke off mid-answer).
        self._broken: str | None = None
        self._send_lock = threading.Lock()
        self._inflight: int | None = None
        self.started_at: float | None = None
        self._launch: Launch | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Start the child and complete the handshake; returns its ``initialize`` result."""
        self._attach(self._spawn())
        return self._handshake()

    def _spawn(self) -> socket.socket:
        """Start the child on one end of a socket pair; returns the host's end."""
        host_sock, child_sock = socket.socketpair()
        try:
            # A command plugin's program is looked up here: a missing one fails the start.
            self._launch = launch(
                self.environment,
                "serve",
                "--fd",
                str(child_sock.fileno()),
                "--class-path",
                self.class_path,
                "--log-level",
                self.log_level,
            )
            self.process = self._popen(child_sock)
        except PluginStartError:
            host_sock.close()
            raise
        except OSError as exc:
            host_sock.close()
            assert self._launch is not None
            self._launch.close()
            program = self._launch.argv[0]
            raise PluginStartError(f"cannot start plugin process {program!r}: {exc}") from exc
        finally:
            child_sock.close()
        return host_sock

    def _popen(self, child_sock: socket.socket) -> subprocess.Popen[bytes]:
        """The confined child (``self._launch``), given ``child_sock``."""
        assert self._launch is not None
        # Its own session: the whole process group is killed when the host stops it.
        process = subprocess.Popen(
            self._launch.argv,
            pass_fds=[child_sock.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._launch.env,
            cwd=self._launch.cwd,
            start_new_session=True,
        )
        # It runs at this thread's niceness (a background job's thread is niced), in an
        # autogroup of its own, which the kernel weighs against the service's as a whole.
        group_as_caller(process.pid)
        return process

    def _attach(self, host_sock: socket.socket) -> None:
        """Read the channel from ``host_sock``, and the child's output into its log."""
        assert self.process is not None
        self._sock = host_sock
        self._reader = LineReader(host_sock)
        self.started_at = time.monotonic()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            _pump(self.process.stdout, "info", self.on_log),
            _pump(self.process.stderr, "warning", self.on_log),
        ]

    def _handshake(self) -> dict[str, Any]:
        """``initialize``; a child that fails it or picks no version we speak is stopped."""
        try:
            self.info = self.call(
                "initialize", {"protocol_versions": list(PROTOCOL_VERSIONS)}, self.start_timeout
            )
        except PluginCallError as exc:
            self.stop()
            raise PluginStartError(str(exc), exc.kind) from exc
        except PluginRuntimeError as exc:
            self.stop()
            raise PluginStartError(f"plugin did not start: {exc}", exc.kind) from exc
        version = self.info.get("protocol_version") if isinstance(self.info, dict) else None
        if version not in PROTOCOL_VERSIONS:
            self.stop()
            raise PluginStartError(
                f"protocol mismatch: host speaks {list(PROTOCOL_VERSIONS)}, "
                f"plugin chose {version!r}",
                "protocol",
            )
        return self.info

    def stop(self, grace: float = 2.0) -> None:
        """Ask the child to shut down, then kill its whole process group."""
        process = self.process
        if process is None:
            return
        if process.poll() is None and self._sock is not None and self._broken is None:
            try:
                self.call("shutdown", {}, timeout=grace)
                process.wait(timeout=grace)
            except (PluginRuntimeError, subprocess.TimeoutExpired):
                pass  # it is killed below either way
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        _kill_group(process)
        for pump in self._pumps:
            pump.join(timeout=grace)
        if self._launch is not None:
            self._launch.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        """Whether the child runs and its channel can still be used."""
        return (
            self.process is not None
            and self.process.poll() is None
            and self._sock is not None
            and self._broken is None
        )

    def cancel(self, grace: float = 5.0) -> bool:
        """Ask the plugin to cancel the call in flight (``$/cancel``); kill it after ``grace``.

        Safe from any thread. The call then ends with a ``PluginCallError`` of kind
        ``canceled`` (or, when the plugin ignores the request, ``PluginExited``).
        Returns whether a call was in flight.
        """
        req_id, process = self._inflight, self.process
        if req_id is None or process is None:
            return False
        try:
            self._send(notification(CANCEL_METHOD, {"id": req_id}))
        except OSError:
            _kill_group(process)
            return True

        def enforce() -> None:
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self._inflight != req_id or process.poll() is not None:
                    return
                time.sleep(0.05)
            if self._inflight == req_id:
                logger.warning("plugin ignored $/cancel for %s s; killing it", grace)
                _kill_group(process)

        threading.Thread(target=enforce, name="estate-plugin-cancel", daemon=True).start()
        return True

    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("plugin channel is closed")
        with self._send_lock:
            sock.sendall(data)

    def __enter__(self) -> PluginProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- calls -------------------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict[str, Any],
        timeout: float | None = None,
        on_notification: Notification | None = None,
    ) -> Any:
        """Send one request and wait for its answer, handling notifications meanwhile.

        ``timeout`` bounds the whole call; on expiry the process is killed.
        """
        if self._sock is None or self._reader is None:
            raise PluginExited("plugin process is not running")
        if self._broken is not None:
            raise PluginProtocolError(f"plugin channel is unusable after: {self._broken}")
        self._next_id += 1
        req_id = self._next_id
        deadline = time.monotonic() + (timeout if timeout is not None else self.call_timeout)
        answered = False
        self._inflight = req_id
        try:
            self._send(request(req_id, method, params))
            while True:
                message = self._reader.read(deadline)
                if "method" in message:
                    self._notify(message, on_notification)
                    continue
                if message.get("id") not in (req_id, None):
                    raise PluginProtocolError(
                        f"plugin answered request {message.get('id')!r} while {req_id} was pending"
                    )
                answered = True
                return _result(method, message)
        except PluginCallError as exc:
            if exc.traceback:  # the plugin's own frames, into its log (masked there)
                self.on_log("error", exc.traceback)
            note = self._launch.limit_note(None, str(exc)) if self._launch else ""
            if not note:
                raise
            raise PluginCallError(f"{exc}{note}", exc.kind, exc.traceback) from None
        except PluginTimeout:
            _kill_group(self.process)
            limit = timeout if timeout is not None else self.call_timeout
            raise PluginTimeout(
                f"plugin did not answer {method!r} within {limit:g}s; it was stopped"
            ) from None
        except PluginExited as exc:
            raise PluginExited(f"{exc}{self._exit_note()}") from None
        except OSError as exc:
            raise PluginExited(f"plugin connection lost: {exc}{self._exit_note()}") from None
        finally:
            self._inflight = None
            if not answered and self._broken is None:
                # Unread messages of this call may still be on the way: no later call
                # could tell them from its own answer.
                self._broken = f"{method!r} broke off before its answer"

    def _notify(self, message: dict[str, Any], on_notification: Notification | None) -> None:
        method = message.get("method")
        params = message.get("params") or {}
        if not isinstance(method, str) or not isinstance(params, dict):
            raise PluginProtocolError("plugin sent a notification without a method")
        if method == "log":
            self.on_log(str(params.get("level", "info")), str(params.get("message", "")))
        elif on_notification is not None:
            on_notification(method, params)
        else:
            logger.debug("ignored notification %s from plugin", method)

    def _exit_note(self) -> str:
        process = self.process
        if process is None:
            return ""
        try:
            code = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return ""
        note = self._launch.limit_note(code) if self._launch is not None else ""
        if code < 0:
            return f" (killed by signal {signal.Signals(-code).name}{note})"
        return f" (exit code {code}{note})"


def _result(method: str, message: dict[str, Any]) -> Any:
    error = message.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise PluginProtocolError(f"plugin answered {method!r} with a malformed error")
        details = error.get("data")
        data: dict[str, Any] = details if isinstance(details, dict) else {}
        kind = str(data.get("kind") or "internal")
        trace = data.get("traceback")
        raise PluginCallError(
            str(error.get("message") or "plugin error"),
            kind,
            _tail(trace) if isinstance(trace, str) else "",
        )
    if "result" not in message:
        raise PluginProtocolError(f"plugin answered {method!r} with neither result nor error")
    return message["result"]


def _tail(text: str) -> str:
    """The end of a plugin's traceback, where its failing line is, within one log line."""
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    return "…" + text[-(MAX_TRACEBACK_CHARS - 1) :]


def _pump(stream: IO[bytes], level: str, sink: LogSink) -> threading.Thread:
    def run() -> None:
        for raw in iter(stream.readline, b""):
            sink(level, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    thread = threading.Thread(target=run, name="estate-plugin-output", daemon=True)
    thread.start()
    return thread


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:  # the group is gone and its id reused: kill only our child
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("plugin process %s did not die after SIGKILL", process.pid)
