"""vcsim, govmomi's vCenter simulator, started on a free loopback port for tests and bench.

``make platforms`` builds ``tests/emulators/vcsim/main.go`` into ``.venv/bin/vcsim``.
:func:`vcsim` starts one with a VPX model of the asked size, waits until it prints
the URL it serves, and stops it by its PID afterwards; its datastore folders live in a
temporary folder removed with it. :class:`Vcsim` tells where it listens, counts the
requests it served (by SOAP method, counted by the server) and opens pyVmomi sessions
for a test to change the simulated vCenter between two collections.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / ".venv" / "bin" / "vcsim"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Size:
    """The VPX model's size, per vcsim's own counting: ``vms`` per cluster resource pool
    and per standalone host; datastores, port groups, clusters and standalone hosts per
    datacenter."""

    datacenters: int = 1
    clusters: int = 1
    hosts_per_cluster: int = 3
    standalone_hosts: int = 1
    vms: int = 2
    datastores: int = 1
    portgroups: int = 1
    pools: int = 0
    esx: bool = False  # a standalone ESXi host: only vms and datastores apply

    @property
    def hosts(self) -> int:
        if self.esx:
            return 1
        return self.datacenters * (self.clusters * self.hosts_per_cluster + self.standalone_hosts)

    @property
    def total_vms(self) -> int:
        if self.esx:
            return self.vms
        return self.datacenters * (self.clusters + self.standalone_hosts) * self.vms

    def flags(self) -> list[str]:
        if self.esx:
            return ["-esx", f"-vm={self.vms}", f"-ds={self.datastores}"]
        return [
            f"-dc={self.datacenters}",
            f"-cluster={self.clusters}",
            f"-host={self.hosts_per_cluster}",
            f"-standalone-host={self.standalone_hosts}",
            f"-vm={self.vms}",
            f"-ds={self.datastores}",
            f"-pg={self.portgroups}",
            f"-pool={self.pools}",
        ]


@dataclass(slots=True)
class Vcsim:
    """A running vcsim: its SDK URL, PID and the user it accepts (any, if None)."""

    url: str
    pid: int
    size: Size
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def _get(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.url.replace("/sdk", path), method=method)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            body: bytes = response.read()
            return body

    def requests(self) -> dict[str, int]:
        """Requests served so far: SOAP method (or ``GET /path``) → count."""
        counts: dict[str, int] = json.loads(self._get("/stats"))
        return counts

    def certificate(self) -> str:
        """The PEM of the self-signed certificate it serves (to trust it on purpose)."""
        return self._get("/cert.pem").decode()

    def answer_next_with(self, status: int) -> None:
        """Make the next SOAP request answer HTTP ``status`` (503: vCenter shedding load)."""
        self._get(f"/status?code={status}", method="POST")

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A pyVmomi ServiceInstance logged in as the accepted user, for a test to change
        the simulated vCenter; logged out afterwards."""
        from pyVim.connect import Disconnect, SmartConnect

        instance = SmartConnect(
            host=self.host,
            port=self.port,
            user=self.username or "user",
            pwd=self.password or "pass",
            disableSslCertValidation=True,
        )
        try:
            yield instance
        finally:
            Disconnect(instance)

    def connection_config(self, **overrides: Any) -> dict[str, Any]:
        """Seed 000's vCenter payload pointing here (the endpoint is ``host``)."""
        config: dict[str, Any] = {
            "username": self.username or "administrator@vsphere.local",
            "password": self.password or "secret",
            "port": self.port,
            "verify_ssl": False,
        }
        config.update(overrides)
        return config


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Requests served between two :meth:`Vcsim.requests` counts."""
    return {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}


@contextmanager
def vcsim(
    size: Size = Size(), *, username: str | None = None, password: str | None = None
) -> Iterator[Vcsim]:
    """Start vcsim with ``size``; raise ``RuntimeError`` saying why when it cannot."""
    if not os.access(BINARY, os.X_OK):
        raise RuntimeError(f"{BINARY} is missing: run `make platforms` (it builds vcsim)")
    argv = [str(BINARY), *size.flags(), "-port=0"]
    if username is not None:
        argv += [f"-username={username}", f"-password={password or ''}"]
    scratch = Path(tempfile.mkdtemp(prefix="vcsim-"))
    log = (scratch / "vcsim.log").open("wb")
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        url = _ready_url(process, scratch / "vcsim.log")
        yield Vcsim(url, process.pid, size, username, password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _ready_url(process: subprocess.Popen[bytes], log: Path) -> str:
    """The URL vcsim prints once it serves; fails with its log if it never does."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline().decode().strip()
            if line.startswith("https://"):
                return line
        if process.poll() is not None:
            break
    raise RuntimeError(
        f"vcsim did not start (exit code {process.poll()}): {log.read_text()[-2000:]}"
    )


def by_name(instance: Any, vim_type: Any) -> dict[str, Any]:
    """Every managed object of ``vim_type`` in the simulator, by name (for test changes)."""
    content = instance.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return {obj.name: obj for obj in view.view}
    finally:
        view.DestroyView()


def wait(task: Any) -> Any:
    """Wait for a vSphere task; its result (raises the task's fault)."""
    from pyVim.task import WaitForTask

    WaitForTask(task)
    return task.info.result
