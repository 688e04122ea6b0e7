"""The plugin side of the wire protocol: run a provider as a child of the service.

The host creates a socket pair and starts ``python -m inventory_providers serve --fd N
--plugin-dir DIR --class-path provider.Cls`` (``cli.py`` reads that command line);
this module answers JSON-RPC 2.0 requests, one JSON object per line, on that inherited
socket. stdout and stderr are not part of the channel: whatever the plugin prints there
becomes its log. See ``docs/protocol.md``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import __version__
from .credential import ProviderCredential
from .errors import ProviderError, kind_of
from .loader import plugin_traceback
from .plain import json_default
from .protocol import (
    BATCH_METHOD,
    CANCEL_METHOD,
    DEFAULT_BATCH_SIZE,
    PROTOCOL_VERSIONS,
    REQUEST_CANCELLED,
)
from .provider import BaseProvider
from .resource import ResourceData, _begin_run

__all__ = ["PROTOCOL_VERSIONS", "Channel", "serve"]


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=json_default).encode()


try:  # orjson is faster when the environment has it; the SDK itself needs only stdlib
    import orjson

    def _dumps(obj: Any) -> bytes:
        try:
            # default: a client library's float subclass or Decimal stays a number
            # (orjson writes neither itself), a set a list; see plain.json_default.
            return orjson.dumps(obj, default=json_default)
        except TypeError:
            # What orjson refuses and json writes (an integer beyond 64 bits): the
            # accelerator must not change what a plugin can send.
            return _json_dumps(obj)

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - exercised by plugins without orjson
    _dumps = _json_dumps
    _loads = json.loads


class Channel:
    """Newline-delimited JSON over a connected socket; ``send`` is thread-safe."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = _dumps(message) + b"\n"
        with self._lock:
            self._sock.sendall(data)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def receive(self) -> dict[str, Any] | None:
        line = self._reader.readline()
        if not line:
            return None
        message = _loads(line)
        if not isinstance(message, dict):
            raise ValueError("a message must be a JSON object")
        return message


def _unencodable(record: Any) -> str | None:
    """Why ``record`` cannot be written as JSON (naming the field), or None."""
    fields = record.items() if isinstance(record, dict) else [("resource", record)]
    for name, value in fields:
        try:
            _dumps(value)
        except RecursionError:
            return f"{name}: nested too deeply to be sent as JSON"
        except (TypeError, ValueError) as exc:
            return f"{name}: cannot be sent as JSON ({exc})"
    return None


class _WireLogHandler(logging.Handler):
    """Sends every log record to the host as a ``log`` notification."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        message = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.format(record),
            "time": record.created,
        }
        with contextlib.suppress(OSError):  # the host is gone; nothing left to tell
            self._channel.notify("log", message)


class _Server:
    def __init__(self, channel: Channel, cls: type[BaseProvider], class_path: str) -> None:
        self.channel = channel
        self.cls = cls
        self.class_path = class_path
        self.provider: BaseProvider | None = None
        # The request being answered, and whether the host asked to cancel it.
        self._current: Any = None
        self._cancel = threading.Event()
        self._early_cancels: set[Any] = set()
        self._cancel_lock = threading.Lock()

    def begin(self, req_id: Any) -> None:
        """Mark ``req_id`` as the request in flight (a cancel may have come first)."""
        with self._cancel_lock:
            self._current = req_id
            self._cancel.clear()
            if req_id is not None and req_id in self._early_cancels:
                self._early_cancels.discard(req_id)
                self._cancel.set()

    def cancel(self, req_id: Any) -> None:
        """``$/cancel`` (on the reader thread): flag the request if it is in flight."""
        with self._cancel_lock:
            if req_id is not None and req_id == self._current:
                self._cancel.set()
            elif req_id is not None and len(self._early_cancels) < 1000:
                self._early_cancels.add(req_id)

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def check_canceled(self) -> None:
        if self._cancel.is_set():
            raise _RpcError(REQUEST_CANCELLED, "request canceled by the host", "canceled")

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        handler = getattr(self, "rpc_" + method.replace(".", "_"), None)
        if handler is None:
            raise _RpcError(-32601, f"unknown method {method!r}", "unsupported")
        return handler(params)

    def rpc_initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        offered = params.get("protocol_versions") or []
        common = sorted(set(offered) & set(PROTOCOL_VERSIONS))
        if not common:
            raise _RpcError(
                -32000,
                f"protocol mismatch: host speaks {offered}, plugin speaks {list(PROTOCOL_VERSIONS)}",
                "protocol",
            )
        return {
            "protocol_version": common[-1],
            "sdk_version": __version__,
            "plugin": {**self.cls.metadata(), "class_path": self.class_path},
            "capabilities": {
                "collect": True,
                "validate": True,
                "health": True,
                "cancel": True,
                "action": self.cls.run_action is not BaseProvider.run_action
                or bool(self.cls.action_specs()),
            },
        }

    def rpc_configure(self, params: dict[str, Any]) -> dict[str, Any]:
        cred = params.get("credential") or {}
        credential = ProviderCredential(
            username=cred.get("username"),
            password=cred.get("password"),
            hostname=cred.get("hostname"),
            # Like ProviderCredential.from_config: a form may send the port as a string.
            port=int(cred["port"]) if cred.get("port") is not None else 443,
            extra=dict(cred.get("extra") or {}),
        )
        model = SimpleNamespace(**(params.get("provider") or {}))
        self.provider = self.cls(model, credential)
        self.provider._publisher = self._publish
        self.provider._cancel_event = self._cancel
        return {}

    def _publish(self, event: dict[str, Any]) -> None:
        """``BaseProvider.publish_event`` under the service: an ``event`` notification."""
        with contextlib.suppress(OSError):  # the host is gone; nothing left to tell
            self.channel.notify("event", event)

    def _configured(self) -> BaseProvider:
        if self.provider is None:
            raise _RpcError(-32002, "configure must come before this call", "protocol")
        return self.provider

    def rpc_validate(self, params: dict[str, Any]) -> dict[str, Any]:
        ok, message = self._configured().validate_connection()
        return {"ok": bool(ok), "message": str(message)}

    def rpc_health(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"status": "ok", "time": time.time()}

    def rpc_collect(self, params: dict[str, Any]) -> dict[str, Any]:
        provider = self._configured()
        size = int(params.get("batch_size") or DEFAULT_BATCH_SIZE)
        count = 0
        rejected: list[dict[str, Any]] = []
        batch: list[Any] = []
        indexes: list[int] = []
        canceled = self._cancel.is_set
        provider.incomplete_parts = []  # this collection's, not an earlier one's
        targets = params.get("target_resource_types")
        provider.target_resource_types = (
            frozenset(str(t) for t in targets) if isinstance(targets, list) and targets else None
        )
        _begin_run(under_service=True)  # a run warns once per word outside the vocabularies
        provider.connect()
        try:
            self.check_canceled()
            for index, item in enumerate(provider.collect()):
                if canceled():
                    self.check_canceled()
                if isinstance(item, ResourceData):
                    batch.append(item.to_dict())
                elif isinstance(item, dict):
                    batch.append(item)  # the host validates it like any wire record
                else:
                    rejected.append(
                        {"index": index, "error": f"collect() yielded {type(item).__name__}"}
                    )
                    continue
                indexes.append(index)
                count += 1
                if len(batch) >= size:
                    self._send_batch(batch, indexes, rejected)
                    batch, indexes = [], []
        finally:
            # What was found before a failure is sent too: the host keeps it (and
            # deletes nothing, since the run failed).
            if batch:
                self._send_batch(batch, indexes, rejected)
            try:
                provider.disconnect()
            except NotImplementedError:
                pass
            except Exception:  # a failing disconnect must not hide the collection's outcome
                provider.logger.exception("disconnect() failed")
        return {
            "count": count,
            "rejected": rejected,
            "incomplete": list(getattr(provider, "incomplete_parts", [])),
        }

    def _send_batch(
        self, batch: list[Any], indexes: list[int], rejected: list[dict[str, Any]]
    ) -> None:
        """Send a batch; when it cannot be encoded, send what can be and reject the rest.

        A record nested deeper than the encoder recurses (or holding what JSON cannot
        write) is rejected alone, with the field at fault, not the whole collection.
        """
        try:
            self.channel.notify(BATCH_METHOD, {"resources": batch})
            return
        except (RecursionError, TypeError, ValueError):
            pass
        sendable = []
        for index, record in zip(indexes, batch, strict=True):
            problem = _unencodable(record)
            if problem is None:
                sendable.append(record)
                continue
            ref = record.get("ems_ref") if isinstance(record, dict) else None
            rejected.append(
                {"index": index, "ems_ref": ref if isinstance(ref, str) else None, "error": problem}
            )
        if sendable:
            self.channel.notify(BATCH_METHOD, {"resources": sendable})

    def rpc_action(self, params: dict[str, Any]) -> dict[str, Any]:
        """``action``: run one lifecycle action through ``BaseProvider.run_action``."""
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise _RpcError(-32602, "action: name must be a non-empty string", "protocol")
        target = params.get("ems_ref")
        if target is not None and not isinstance(target, str):
            raise _RpcError(-32602, "action: ems_ref must be a string or null", "protocol")
        arguments = params.get("params") or {}
        if not isinstance(arguments, dict):
            raise _RpcError(-32602, "action: params must be an object", "protocol")
        provider = self._configured()
        result = provider.run_action(name, target, arguments)
        return {"result": result}

    def rpc_actions(self, params: dict[str, Any]) -> dict[str, Any]:
        """``actions``: the declared actions that apply to ``resource`` (a stored record,
        or null for the provider-level ones), each with whether it is available now."""
        resource = params.get("resource")
        if resource is not None and not isinstance(resource, dict):
            raise _RpcError(-32602, "actions: resource must be an object or null", "protocol")
        provider = self._configured()
        slug = resource.get("resource_type_slug") if resource is not None else None
        answer = []
        for spec in self.cls.action_specs().values():
            if (slug is None) != spec.is_provider_level:
                continue
            if slug is not None and slug not in spec.applies_to:
                continue
            available, reason = provider.action_availability(spec.name, resource)
            answer.append({**spec.to_dict(), "available": available, "reason": reason})
        return {"actions": answer, "profiles": self.cls.implemented_profiles()}

    def rpc_api_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """``api.request``: one HTTP request for the class's ``handle_api_request``."""
        try:
            body = base64.b64decode(params.get("body") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise _RpcError(-32602, "api.request: body must be base64", "protocol") from None
        request = {
            "method": str(params.get("method") or "GET"),
            "path": str(params.get("path") or "/"),
            "query": dict(params.get("query") or {}),
            "headers": dict(params.get("headers") or {}),
            "body": body,
        }
        return self._api_answer(self.cls.handle_api_request(request))

    @staticmethod
    def _api_answer(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise TypeError(f"handle_api_request returned {type(answer).__name__}, not a dict")
        out: dict[str, Any] = {
            "status": answer.get("status", 200),
            "headers": dict(answer.get("headers") or {}),
        }
        if "json" in answer:
            out["json"] = answer["json"]
            return out
        body = answer.get("body", b"")
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, bytes | bytearray):
            raise TypeError(
                f"handle_api_request: body must be bytes or str, not {type(body).__name__}"
            )
        out["body"] = base64.b64encode(body).decode("ascii")
        return out

    def rpc_shutdown(self, params: dict[str, Any]) -> dict[str, Any]:
        raise _Shutdown


class _RpcError(Exception):
    def __init__(self, code: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


class _Shutdown(Exception):
    pass


def _error(req_id: Any, code: int, message: str, kind: str, trace: str = "") -> dict[str, Any]:
    data = {"kind": kind, "traceback": trace} if trace else {"kind": kind}
    return {
        "jsonrpc": "2.0",
        "id": req_id,
        "error": {"code": code, "message": message, "data": data},
    }


def serve(
    channel: Channel, cls: type[BaseProvider], class_path: str, plugin_dir: Path | None = None
) -> None:
    """Answer requests on ``channel`` until ``shutdown`` or the host closes it.

    A reader thread takes every line off the socket, so a ``$/cancel`` notification
    reaches the request in flight while this thread is busy answering it. A call that
    fails with an exception answers with its traceback through ``plugin_dir``'s files
    (by default the folder of ``cls``'s module): the plugin's frames, no others.
    """
    folder = plugin_dir or Path(inspect.getfile(cls)).parent
    server = _Server(channel, cls, class_path)
    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
    reader = threading.Thread(
        target=_read, args=(channel, server, inbox), name="estate-channel", daemon=True
    )
    reader.start()
    while True:
        message = inbox.get()
        if message is None:
            return
        req_id = message.get("id")
        method = message.get("method")
        if not isinstance(method, str):
            channel.send(_error(req_id, -32600, "invalid request: no method", "protocol"))
            continue
        server.begin(req_id)
        try:
            server.check_canceled()
            result = server.handle(method, message.get("params") or {})
        except _Shutdown:
            channel.send({"jsonrpc": "2.0", "id": req_id, "result": {}})
            return
        except _RpcError as exc:
            channel.send(_error(req_id, exc.code, str(exc), exc.kind))
            continue
        except Exception as exc:  # process boundary: any plugin failure becomes a reply
            logging.getLogger("inventory_providers.serve").debug("call failed", exc_info=True)
            if server.cancel_requested() and not isinstance(exc, ProviderError):
                # A plugin that stops on ``self.canceled`` may raise anything.
                channel.send(
                    _error(req_id, REQUEST_CANCELLED, "request canceled by the host", "canceled")
                )
                continue
            text = f"{type(exc).__name__}: {exc}"
            trace = plugin_traceback(exc, folder)
            channel.send(_error(req_id, -32000, text, kind_of(exc), trace))
            continue
        finally:
            server.begin(None)
        if req_id is not None:
            channel.send({"jsonrpc": "2.0", "id": req_id, "result": result})


def _read(channel: Channel, server: _Server, inbox: queue.Queue[dict[str, Any] | None]) -> None:
    """Move requests from the socket to ``inbox``; act on ``$/cancel`` at once."""
    while True:
        try:
            message = channel.receive()
        except ValueError as exc:
            with contextlib.suppress(OSError):
                channel.send(_error(None, -32700, f"parse error: {exc}", "protocol"))
            continue
        except OSError:
            message = None
        if message is None:
            inbox.put(None)
            return
        if message.get("method") == CANCEL_METHOD:
            params = message.get("params")
            server.cancel(params.get("id") if isinstance(params, dict) else None)
            continue
        inbox.put(message)
