"""A plugin that publishes events (``evented:platform``), shared by the event tests."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import create_provider, manifest, plugin_dir, tarball, upload

SECRET = "s3cret-pass-word"

EVENTS_PROVIDER = """
from inventory_providers.base import BaseProvider, ResourceData


class EventsProvider(BaseProvider):
    vendor = "evented"
    provider_type = "platform"
    supported_resource_types = ["virtual_machine"]

    def connect(self):
        self.publish_event(
            "session.opened",
            f"logged in as {self.credential.username} with {self.credential.password}",
            user=self.credential.username,
            token=self.credential.password,
        )

    def disconnect(self):
        pass

    def collect(self):
        extra = self.credential.extra
        for i in range(2):
            yield ResourceData(ems_ref=f"vm-{i}", resource_type_slug="virtual_machine")
        self.publish_event("vm.missing", "vm-9 is gone", severity="warning", ems_ref="vm-9")
        if extra.get("bad_events"):
            # Past the SDK's own checks, straight onto the wire: the host must check too.
            self._publisher({"type": "x", "severity": "loud"})
            self._publisher({"type": "x", "unknown": 1})
            self._publisher({"type": "big", "data": {"blob": "b" * 70000}})
            self.publish_event("odd.text", "nul\\x00here", note="a\\x00b", huge=2**70)
        for i in range(int(extra.get("flood", 0))):
            self.publish_event("flood", str(i))
        self.publish_event("collect.done", "all done", severity="error")
"""


def install(client: TestClient, tmp_path: Path, provider: str = EVENTS_PROVIDER) -> None:
    data = manifest(
        namespace="evented",
        name="platform",
        vendor="evented",
        provider_type="platform",
        connection_parameters=[
            {"name": "username", "type": "string", "required": False},
            {"name": "password", "type": "string", "required": False, "secret": True},
            {"name": "bad_events", "type": "boolean", "required": False},
            {"name": "flood", "type": "integer", "required": False},
        ],
    )
    folder = plugin_dir(tmp_path / "evented", provider=provider, manifest_data=data)
    response = upload(client, tarball(folder))
    assert response.status_code == 201, response.text


def evented_provider(client: TestClient, name: str = "Evented", **config: Any) -> dict[str, Any]:
    return create_provider(
        client,
        name=name,
        vendor="evented",
        provider_type="platform",
        connection_config={"username": "ops", "password": SECRET, **config},
    )
