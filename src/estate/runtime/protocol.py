"""The host side of the wire protocol: JSON-RPC 2.0, one JSON object per line.

The plugin side is ``inventory_providers.serve``; ``docs/protocol.md`` describes both.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson

from .errors import PluginExited, PluginProtocolError, PluginTimeout

PROTOCOL_VERSIONS = (1,)
MAX_LINE_BYTES = 64 * 1024 * 1024


def request(req_id: int, method: str, params: dict[str, Any]) -> bytes:
    return (
        orjson.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}) + b"\n"
    )


class LineReader:
    """Reads newline-delimited JSON messages from a socket with a deadline per read."""

    def __init__(self, sock: socket.socket, max_line: int = MAX_LINE_BYTES) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._max_line = max_line
        self._start = 0

    def read(self, deadline: float) -> dict[str, Any]:
        """The next message; raises on timeout, EOF, garbage or an oversized line."""
        while True:
            end = self._buffer.find(b"\n", self._start)
            if end >= 0:
                line = bytes(self._buffer[self._start : end])
                self._start = end + 1
                if self._start > 1 << 20:
                    del self._buffer[: self._start]
                    self._start = 0
                return _decode(line)
            if len(self._buffer) - self._start > self._max_line:
                raise PluginProtocolError(
                    f"plugin sent a message over {self._max_line // (1024 * 1024)} MB without a "
                    "newline; lower its batch size"
                )
            self._fill(deadline)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PluginTimeout("plugin did not answer in time")
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(1 << 20)
        except TimeoutError:
            raise PluginTimeout("plugin did not answer in time") from None
        except OSError as exc:
            raise PluginExited(f"plugin connection lost: {exc}") from None
        if not chunk:
            raise PluginExited("plugin process closed the connection")
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += chunk


def _decode(line: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        preview = line[:80].decode("utf-8", "replace")
        raise PluginProtocolError(f"plugin sent something that is not JSON: {preview!r}") from None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise PluginProtocolError("plugin sent a message that is not a JSON-RPC 2.0 object")
    return message
