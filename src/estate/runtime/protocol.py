"""The host side of the wire protocol: JSON-RPC 2.0, one JSON object per line.

The plugin side is ``inventory_providers.serve``; ``docs/protocol.md`` describes both.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Literal

import msgspec
import orjson

from inventory_providers.protocol import BATCH_METHOD

from .errors import PluginExited, PluginProtocolError, PluginTimeout

MAX_LINE_BYTES = 64 * 1024 * 1024


def request(req_id: int, method: str, params: dict[str, Any]) -> bytes:
    return (
        orjson.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}) + b"\n"
    )


def notification(method: str, params: dict[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params}) + b"\n"


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
            if end - self._start > self._max_line:
                raise PluginProtocolError(
                    f"plugin sent a message over {_size(self._max_line)}; lower its batch size"
                )
            if end >= 0:
                line = bytes(self._buffer[self._start : end])
                self._start = end + 1
                if self._start > 1 << 20:
                    del self._buffer[: self._start]
                    self._start = 0
                return _decode(line)
            if len(self._buffer) - self._start > self._max_line:
                raise PluginProtocolError(
                    f"plugin sent a message over {_size(self._max_line)} without a newline; "
                    "lower its batch size"
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


def _size(limit: int) -> str:
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit % mb == 0 else f"{limit} bytes"


_EMPTY = msgspec.Raw(b"")


class _Message(msgspec.Struct):
    jsonrpc: str
    id: int | str | None = None
    method: str | None = None
    params: msgspec.Raw = _EMPTY
    result: msgspec.Raw = _EMPTY
    error: Any = None


class _Batch(msgspec.Struct):
    resources: list[msgspec.Raw]


class _BatchMessage(msgspec.Struct):
    jsonrpc: Literal["2.0"]
    method: Literal["collect.batch"]  # BATCH_METHOD
    params: _Batch


_MESSAGE = msgspec.json.Decoder(_Message)
_BATCH = msgspec.json.Decoder(_Batch)
_BATCH_MESSAGE = msgspec.json.Decoder(_BatchMessage)
# Batches keep each resource as raw JSON bytes: ingest validates and hashes them
# one by one without building Python dicts first.
_BATCH_MARK = b'"' + BATCH_METHOD.encode() + b'"'


def _decode(line: bytes) -> dict[str, Any]:
    if _BATCH_MARK in line[:100]:
        # The bulk of all traffic: read the line once, straight into raw resources.
        try:
            batch = _BATCH_MESSAGE.decode(line)
        except msgspec.DecodeError:
            pass  # the general path below says what is wrong
        else:
            return {
                "jsonrpc": "2.0",
                "id": None,
                "method": BATCH_METHOD,
                "params": {"resources": batch.params.resources},
            }
    try:
        message = _MESSAGE.decode(line)
    except msgspec.ValidationError:
        raise PluginProtocolError(
            "plugin sent a message that is not a JSON-RPC 2.0 object"
        ) from None
    except msgspec.DecodeError:
        preview = line[:80].decode("utf-8", "replace")
        raise PluginProtocolError(f"plugin sent something that is not JSON: {preview!r}") from None
    if message.jsonrpc != "2.0":
        raise PluginProtocolError("plugin sent a message that is not a JSON-RPC 2.0 object")
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": message.id}
    try:
        if message.method is not None:
            out["method"] = message.method
            if message.method == BATCH_METHOD and message.params:
                out["params"] = {"resources": _BATCH.decode(message.params).resources}
            else:
                out["params"] = msgspec.json.decode(message.params) if message.params else {}
        elif message.error is not None:
            out["error"] = message.error
        elif message.result:
            out["result"] = msgspec.json.decode(message.result)
    except msgspec.ValidationError as exc:
        raise PluginProtocolError(f"plugin sent a malformed {message.method!r}: {exc}") from None
    return out
