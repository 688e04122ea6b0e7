"""Plain functions that build what tests need: plugin folders, archives, runs."""

from __future__ import annotations

import io
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

API = "/api/inventory/v1"
FINISHED = ("completed", "partial", "failed", "canceled")

SEED_PROVIDER = '''
from inventory_providers.base import BaseProvider, ProviderCredential, ResourceData


class SomeSDK:
    """Stands in for a platform client library."""

    def __init__(self, host, token):
        self.host = host
        self.token = token

    def list_vms(self):
        class VM:
            def __init__(self, i):
                self.id = f"vm-{i}"
                self.name = f"web-{i}"
                self.active = i % 2 == 0
        return [VM(i) for i in range(int(COUNT))]

    def close(self):
        pass


COUNT = 3


class MyProvider(BaseProvider):
    vendor = "myvendor"
    provider_type = "myplatform"
    supported_resource_types = ["virtual_machine"]

    def connect(self):
        self.client = SomeSDK(host=self.credential.hostname,
                              token=self.credential.password)

    def disconnect(self):
        self.client.close()

    def collect(self):
        for vm in self.client.list_vms():
            yield ResourceData(
                ems_ref=vm.id,
                resource_type_slug="virtual_machine",
                name=vm.name,
                state="running" if vm.active else "stopped",
            )
'''


def manifest(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "namespace": "myvendor",
        "name": "myplatform",
        "version": "1.0.0",
        "display_name": "My platform",
        "description": "A plugin written as seed 000 shows",
        "vendor": "myvendor",
        "provider_type": "myplatform",
        "infrastructure": "private_cloud",
        "license": "Apache-2.0",
        "supported_resource_types": ["virtual_machine"],
        "connection_parameters": [
            {"name": "username", "type": "string", "required": False},
            {"name": "password", "type": "string", "required": False, "secret": True},
        ],
    }
    base.update(overrides)
    return base


def plugin_dir(
    root: Path,
    *,
    provider: str = SEED_PROVIDER,
    manifest_data: dict[str, Any] | None = None,
    requirements: str = "",
    extra_files: dict[str, str] | None = None,
) -> Path:
    """A plugin folder laid out as seed 000 shows."""
    root.mkdir(parents=True, exist_ok=True)
    data = manifest_data if manifest_data is not None else manifest()
    (root / "manifest.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "provider.py").write_text(textwrap.dedent(provider))
    (root / "__init__.py").write_text("")
    (root / "requirements.txt").write_text(requirements)
    for name, content in (extra_files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def tarball(folder: Path) -> bytes:
    """``tar czf - .`` of the folder, as the seed's curl line packages it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, *, force: bool = False) -> Any:
    return client.post(
        f"{API}/provider-plugins/upload/",
        params={"force": "true"} if force else None,
        files={"plugin": ("plugin.tar.gz", data, "application/gzip")},
    )


def create_provider(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Simulated",
        "infrastructure": "private_cloud",
        "vendor": "simulated",
        "provider_type": "datacenter",
        "endpoint": "dc.local",
        "organization": 1,
        "connection_config": {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3},
    }
    body.update(overrides)
    response = client.post(f"{API}/providers/", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for_run(client: TestClient, run_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/collection-runs/{run_id}/").json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


def collect(client: TestClient, provider_id: int, timeout: float = 60) -> dict[str, Any]:
    response = client.post(f"{API}/providers/{provider_id}/collect/")
    assert response.status_code == 202, response.text
    return wait_for_run(client, response.json()["id"], timeout)


def wheel(dest: Path, name: str, version: str, module_source: str) -> Path:
    """A pure-Python wheel of one module ``name`` (distribution ``name``), written by hand.

    A wheel is a zip with the module and a ``.dist-info`` (METADATA, WHEEL, RECORD).
    """
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": textwrap.dedent(module_source).encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: estate-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in files.items():
            archive.writestr(member, content)
    return path


TEST_PROVIDER = """
import logging
import os
import subprocess
import sys
import time

from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.errors import Unauthenticated


class TestProvider(BaseProvider):
    vendor = "test"
    provider_type = "plugin"
    supported_resource_types = ["virtual_machine"]

    def connect(self):
        pass

    def disconnect(self):
        pass

    def collect(self):
        count = int(self.credential.extra.get("count", 3))
        for i in range(count):
            yield ResourceData(ems_ref=f"vm-{i}", resource_type_slug="virtual_machine")

{methods}
"""
TEST_CLASS_PATH = "provider.TestProvider"


def provider_plugin(root: Path, methods: str = "", *, header: str = "") -> Path:
    """A plugin folder whose provider.py holds ``TestProvider``; ``methods`` override its own.

    ``methods`` is the source of methods at class level (any indentation); ``header`` is
    module-level code placed before the imports (to break the import, say).
    """
    root.mkdir(parents=True, exist_ok=True)
    body = textwrap.indent(textwrap.dedent(methods).strip("\n"), "    ")
    source = textwrap.dedent(header) + TEST_PROVIDER.replace("{methods}", body)
    (root / "provider.py").write_text(source)
    (root / "__init__.py").write_text("")
    return root


def start_run(client: TestClient, provider_id: int) -> dict[str, Any]:
    """``POST collect/`` without waiting: the run as the 202 answered it."""
    response = client.post(f"{API}/providers/{provider_id}/collect/")
    assert response.status_code == 202, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_for_status(
    client: TestClient, run_id: int, status: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll until the run has ``status`` (fails if it finishes with another one first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/collection-runs/{run_id}/").json()
        if run["status"] == status:
            return run
        assert run["status"] not in FINISHED, run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not reach {status!r} in {timeout}s")


def all_resources(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every resource the list endpoint gives for ``params``, following ``next`` links."""
    page: dict[str, Any] = client.get(f"{API}/resources/", params=params).json()
    results: list[dict[str, Any]] = list(page["results"])
    while page["next"]:
        page = client.get(page["next"]).json()
        results.extend(page["results"])
    return results


def patch_config(client: TestClient, provider_id: int, **config: Any) -> dict[str, Any]:
    """Replace a provider's ``connection_config`` with PATCH; the updated provider."""
    response = client.patch(f"{API}/providers/{provider_id}/", json={"connection_config": config})
    assert response.status_code == 200, response.text
    provider: dict[str, Any] = response.json()
    return provider


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``Z`` for a zombie), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0]


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    return process_state(pid) not in (None, "Z")


def live_children(parent: int) -> set[int]:
    """Live child processes of ``parent``, read from ``/proc``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(parent) and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def host_pid(ns_pid: int, root: int) -> int:
    """The pid seen here of the descendant of ``root`` whose pid is ``ns_pid`` in the
    innermost PID namespace (a confined plugin reports pids of its own namespace)."""
    for pid in descendants(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        nspids = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        if int(nspids.split()[-1]) == ns_pid:
            return pid
    raise AssertionError(f"no descendant of {root} is pid {ns_pid} in its namespace")


def plugin_pid(root: int) -> int:
    """The plugin program under ``root``, the sandbox launcher a host starts: the
    deepest process of its chain (launcher, namespace init, plugin)."""
    chain = [root]
    while kids := descendants(chain[-1]):
        chain.append(min(kids))
    return chain[min(2, len(chain) - 1)]
