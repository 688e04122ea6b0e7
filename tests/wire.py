"""A bare host end of the wire protocol for SDK tests: a socket pair, a child, raw JSON-RPC.

Deliberately not ``estate.runtime.host``: these tests check the SDK's side of the
protocol byte for byte, without the service's host in between.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TIMEOUT = 30.0


class Host:
    """The service's end of the socket pair, speaking newline-delimited JSON-RPC."""

    def __init__(self, sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
        self.sock = sock
        self.process = process
        self.reader = sock.makefile("rb")
        self.next_id = 0

    def send(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.sock.sendall(json.dumps(message).encode() + b"\n")
        return self.next_id

    def receive(self) -> dict[str, Any]:
        line = self.reader.readline()
        assert line, f"the plugin closed the channel (exit code {self.process.poll()})"
        message: dict[str, Any] = json.loads(line)
        return message

    def call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """The reply to one request, and the notifications that came before it."""
        req_id = self.send(method, params)
        notifications: list[dict[str, Any]] = []
        while True:
            message = self.receive()
            if "id" in message and "method" not in message:
                assert message["id"] == req_id
                return message, notifications
            notifications.append(message)


@contextmanager
def serving(plugin_dir: Path, class_path: str, log: Path) -> Iterator[Host]:
    """A plugin child on one end of a socket pair; always killed on the way out."""
    host_end, child_end = socket.socketpair()
    with child_end, log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inventory_providers",
                "serve",
                "--fd",
                str(child_end.fileno()),
                "--plugin-dir",
                str(plugin_dir),
                "--class-path",
                class_path,
            ],
            pass_fds=[child_end.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    host_end.settimeout(TIMEOUT)
    host = Host(host_end, process)
    try:
        yield host
    finally:
        host.reader.close()
        host_end.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
