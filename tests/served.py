"""``estate serve`` as a real subprocess, and the ``estate`` command run against it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from typer.testing import CliRunner, Result

from estate.cli import app

ESTATE = Path(sys.executable).with_name("estate")
SIM = ["-c", "clusters=1", "-c", "hosts_per_cluster=2", "-c", "vms_per_host=3"]


@contextmanager
def in_thread(settings: Any) -> Iterator[str]:
    """The app of ``settings`` on a real loopback socket, served by uvicorn in a thread
    of this process (for a real browser); its URL. Open event streams are cut a second
    into the shut-down."""
    import threading

    import uvicorn

    from estate.api.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started
    port = instance.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``ESTATE_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update({"COLUMNS": "250", **extra})
    return env


@dataclass
class Service:
    """A running ``estate serve`` whose data directory is ``root/.estate``, as ``make run`` has it."""

    url: str
    root: Path
    pid: int = 0

    @property
    def password(self) -> str:
        return (self.root / ".estate" / "admin_password").read_text().strip()


@contextmanager
def serving(root: Path, *args: str, **env: str) -> Iterator[Service]:
    """Start ``estate serve [ARGS]`` in ``root`` on a free port; kill it (and what it
    started) on the way out."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [str(ESTATE), "serve", "--port", str(port), *args],
        env=clean_env(**env),
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (root / "server.log").read_text()
            try:
                if httpx.get(f"{url}/api/inventory/v1/ping/", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "estate serve did not answer within 60s"
            time.sleep(0.1)
        yield Service(url, root, process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have stopped it
            os.killpg(process.pid, 9)
        process.wait(timeout=10)
        log.close()


def worker_pids(service: Service) -> list[int]:
    """The API worker processes of ``estate serve --workers N``: the primary's
    children that are spawned interpreters."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == service.pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def serving_process(service: Service, client_port: int) -> int:
    """The pid of the service's process that holds the server end of the connection
    whose client port is ``client_port`` (the kernel, not the service, says which)."""
    server_port = int(service.url.rsplit(":", 1)[1])
    inode = ""
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{service.pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
            if (local, remote) == (server_port, client_port):
                inode = fields[9]
    assert inode, f"no server socket for client port {client_port}"
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.getsid(int(entry.name)) != service.pid:
                continue
            descriptors = list((entry / "fd").iterdir())
        except OSError:  # ended meanwhile
            continue
        if f"socket:[{inode}]" in _links(descriptors):
            return int(entry.name)
    raise AssertionError(f"no process of the service holds socket {inode}")


def _links(descriptors: list[Path]) -> set[str]:
    """What each of a process's open descriptors names; one closed meanwhile (a busy
    worker opens and closes its own) is left out, not the whole process."""
    found = set()
    for descriptor in descriptors:
        try:
            found.add(str(descriptor.readlink()))
        except OSError:
            continue
    return found


def kept(answer: httpx.Response) -> bool:
    """Whether the connection ``answer`` came over stays open after it."""
    return answer.headers.get("connection", "").lower() != "close"


def client_port(answer: httpx.Response) -> int:
    """The client's port of the connection ``answer`` came over."""
    return int(answer.extensions["network_stream"].get_extra_info("client_addr")[1])


@contextmanager
def worker_client(service: Service, worker: int, **options: Any) -> Iterator[httpx.Client]:
    """A client whose kept-alive connection is held by API worker ``worker`` of
    ``estate serve --workers N``, closed on the way out. Each worker accepts on a
    socket of its own and the kernel hashes every new connection to one of them: new
    connections until one lands there and stays (a worker above its share of the
    connections may close one after its answer, api/balance.py)."""
    for _ in range(60):
        client = httpx.Client(base_url=service.url, **options)
        answer = client.get("/api/inventory/v1/ping/")
        assert answer.status_code == 200, answer.text
        if kept(answer) and serving_process(service, client_port(answer)) == worker:
            try:
                yield client
            finally:
                client.close()
            return
        client.close()
    raise AssertionError(f"no connection of 60 reached worker {worker}")


@contextmanager
def static_server(
    site: Path, ready: str = "index.json"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m http.server`` serving ``site`` on a free port, as a child process,
    once it answers ``ready`` (a path under ``site``)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/{ready}", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "http.server did not answer"
            time.sleep(0.05)
        yield url, process
    finally:
        process.kill()
        process.wait(timeout=10)


def static_site(site: Path, key: str, archives: dict[str, bytes]) -> Path:
    """Write ``site/index.json`` and ``site/archives/`` offering ``key`` in the versions
    of ``archives`` (version -> the archive's bytes), as ``estate plugin index export``
    lays a static index out; ``site``."""
    import hashlib

    vendor, provider_type = key.split(":")
    (site / "archives").mkdir(parents=True, exist_ok=True)
    versions = []
    for version, data in archives.items():
        name = f"{vendor}-{provider_type}-{version}.tar.gz"
        (site / "archives" / name).write_bytes(data)
        versions.append(
            {
                "version": version,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "prerelease": "-" in version,
                "archive": f"archives/{name}",
            }
        )
    plugin = {"key": key, "vendor": vendor, "provider_type": provider_type, "versions": versions}
    document = {"schema": 1, "plugins": [plugin]}
    (site / "index.json").write_text(json.dumps(document, indent=2))
    return site


class Estate:
    """Runs ``estate ARGS`` in this process (a real HTTP client against the real service)."""

    def __init__(self, runner: CliRunner, service: Service | None) -> None:
        self.runner = runner
        self.service = service

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json").stdout)

    def yaml(self, *args: str) -> Any:
        return yaml.safe_load(self.ok(*args, "-o", "yaml").stdout)

    def provider(self, name: str, *config: str, key: str = "simulated:datacenter") -> int:
        """Create a provider; its id."""
        created = self.json("provider", "create", "--name", name, "--key", key, *(config or SIM))
        provider_id: int = created["id"]
        return provider_id

    def collected(self, name: str) -> tuple[int, dict[str, Any]]:
        """A simulated provider (2 hosts, 6 VMs) collected to its end: its id and the run."""
        provider_id = self.provider(name)
        run = self.json("provider", "collect", str(provider_id), "--wait")
        assert run["status"] == "completed", run
        return provider_id, run


def words(result: Result) -> str:
    """stdout and stderr with rich's line wrapping undone."""
    return " ".join((result.stdout + " " + result.stderr).split())
