"""``BaseProvider.publish_event`` and ``handle_api_request``: in-process and over ``serve``.

In-process, events land on ``provider.published_events``; under ``serve`` they travel
as ``event`` notifications, and ``api.request`` reaches the class's hook. The plugin
runs as a real child process on one end of a real socket pair.
"""

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from factories import fixture_plugin
from inventory_providers.base import (
    EVENT_SEVERITIES,
    BaseProvider,
    ResourceData,
    validate_event,
)
from inventory_providers.testing import make_provider
from wire import Host
from wire import serving as serve_plugin

TIMEOUT = 30.0


class Publisher(BaseProvider):
    vendor = "test"
    provider_type = "publisher"
    supported_resource_types = ["virtual_machine"]

    def connect(self) -> None:
        self.publish_event("session.opened", f"logged in to {self.credential.hostname}")

    def disconnect(self) -> None:
        pass

    def collect(self) -> Iterator[ResourceData]:
        yield ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine")
        self.publish_event("vm.found", "found vm-1", severity="warning", ems_ref="vm-1", cpus=2)


# -- in-process ------------------------------------------------------------------------


def test_events_are_kept_on_the_provider_without_the_service() -> None:
    provider = make_provider(Publisher, endpoint="dc.local")

    with provider:
        resources = list(provider.collect())

    assert [r.ems_ref for r in resources] == ["vm-1"]
    first, second = provider.published_events
    assert first["type"] == "session.opened"
    assert first["message"] == "logged in to dc.local"
    assert first["severity"] == "info"
    assert first["data"] == {}
    assert second["severity"] == "warning"
    assert second["data"] == {"ems_ref": "vm-1", "cpus": 2}
    assert abs(second["time"] - time.time()) < 60


@pytest.mark.parametrize("severity", EVENT_SEVERITIES)
def test_every_severity_is_accepted(severity: str) -> None:
    provider = make_provider(Publisher)

    provider.publish_event("check", severity=severity)

    assert provider.published_events[-1]["severity"] == severity


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"event_type": "x", "severity": "loud"}, "severity"),
        ({"event_type": ""}, "type"),
        ({"event_type": "has space"}, "type"),
        ({"event_type": "x" * 101}, "type"),
        ({"event_type": 7}, "type"),
        ({"event_type": "x", "message": b"bytes"}, "message"),
        ({"event_type": "x", "message": "m" * 10_001}, "message"),
        ({"event_type": "x", "blob": object()}, "data"),
        ({"event_type": "x", "blob": "b" * 70_000}, "data"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(call: dict[str, Any], field: str) -> None:
    provider = make_provider(Publisher)

    with pytest.raises(ValueError, match=f"^event {field}: "):
        provider.publish_event(**call)

    assert provider.published_events == []


def test_validate_event_refuses_unknown_fields_and_bad_times() -> None:
    with pytest.raises(ValueError, match="event extra: unknown field"):
        validate_event({"type": "x", "extra": 1})
    with pytest.raises(ValueError, match="event time: "):
        validate_event({"type": "x", "time": "yesterday"})
    with pytest.raises(ValueError, match="event data: must be an object"):
        validate_event({"type": "x", "data": [1]})

    assert validate_event({"type": "a.b:c/d-e_f"}) == {
        "type": "a.b:c/d-e_f",
        "message": "",
        "severity": "info",
        "data": {},
    }


def test_the_default_api_hook_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="test:publisher does not serve API routes"):
        Publisher.handle_api_request({"method": "GET", "path": "/"})


# -- over the wire ---------------------------------------------------------------------


@contextmanager
def serving(tmp_path: Path, class_path: str = "provider.Publisher") -> Iterator[Host]:
    plugin_dir = fixture_plugin("publisher", tmp_path / "plugin")
    with serve_plugin(plugin_dir, class_path, tmp_path / "plugin.log") as host:
        reply, _ = host.call("initialize", {"protocol_versions": [1]})
        assert "result" in reply, reply
        yield host


def configure(host: Host, **extra: Any) -> None:
    credential = {"hostname": "dc.local", "extra": extra}
    reply, _ = host.call("configure", {"credential": credential, "provider": {"id": 1}})
    assert reply["result"] == {}


def events(notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n["params"] for n in notifications if n["method"] == "event"]


def test_events_travel_as_notifications_during_collect(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        configure(host)
        reply, notifications = host.call("collect", {"batch_size": 10})

    assert reply["result"]["count"] == 1
    opened, found = events(notifications)
    assert set(opened) == {"type", "message", "severity", "data", "time"}
    assert opened["type"] == "session.opened"
    assert opened["severity"] == "debug"
    assert opened["data"] == {"user": "ops"}
    assert found == {**found, "type": "vm.found", "message": "vm-1", "severity": "info"}
    assert found["data"] == {"ems_ref": "vm-1"}
    assert validate_event(found) == found


def test_a_bad_event_fails_the_call_that_published_it(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        configure(host, bad_event=True)
        reply, notifications = host.call("collect", {})

    assert reply["error"]["data"]["kind"] == "internal"
    assert "event severity" in reply["error"]["message"]
    assert [e["type"] for e in events(notifications)] == ["session.opened", "vm.found"]


def api_request(host: Host, path: str, body: bytes = b"", **extra: Any) -> dict[str, Any]:
    params = {
        "method": "POST",
        "path": path,
        "query": {"a": "1", "b": ["2", "3"]},
        "headers": {"content-type": "text/plain"},
        "body": base64.b64encode(body).decode(),
        **extra,
    }
    reply, _ = host.call("api.request", params)
    return reply


def test_api_request_reaches_the_class_hook_without_configure(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        reply = api_request(host, "/echo", b"payload")

    assert reply["result"] == {
        "status": 200,
        "headers": {},
        "json": {
            "method": "POST",
            "path": "/echo",
            "query": {"a": "1", "b": ["2", "3"]},
            "body": "payload",
            "is_bytes": True,
        },
    }


def test_a_bytes_body_is_answered_as_base64(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        reply = api_request(host, "/raw")

    result = reply["result"]
    assert result["status"] == 201
    assert result["headers"] == {"content-type": "text/plain"}
    assert base64.b64decode(result["body"]) == b"raw"


def test_a_plugin_error_in_the_hook_keeps_its_kind(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        reply = api_request(host, "/boom")
        again = api_request(host, "/echo")

    assert reply["error"]["data"]["kind"] == "unreachable"
    assert "the backend is down" in reply["error"]["message"]
    assert again["result"]["status"] == 200


def test_the_default_hook_answers_unsupported(tmp_path: Path) -> None:
    with serving(tmp_path, "provider.Quiet") as host:
        reply = api_request(host, "/")

    assert reply["error"]["data"]["kind"] == "unsupported"
    assert "test:quiet does not serve API routes" in reply["error"]["message"]


def test_a_body_that_is_not_base64_is_a_protocol_error(tmp_path: Path) -> None:
    with serving(tmp_path) as host:
        reply, _ = host.call("api.request", {"method": "GET", "path": "/", "body": "no base64!"})

    assert reply["error"]["data"]["kind"] == "protocol"
    assert "base64" in reply["error"]["message"]
