"""fakepve, a fake of the Proxmox VE API, served by a child process on a loopback port.

fakepve (PyPI, AGPL-3.0) is a test-only dependency: the tests and the benchmark
start it, the plugin never imports it. Its command line (``fakepve GUESTS.json``)
loads guests; this module's child does exactly what that command does through
fakepve's own Python API, plus the scenarios its command line cannot set up: nodes
declared offline (``Model.set_node_offline``), API tokens, requests made to fail
(``Model.fail``). The
guests file format is fakepve's: ``{"guests": [{"vmid", "name", "node", "status",
"config": {...}, "type": "qemu"|"lxc", "template": bool}, ...]}``.

    with running_fakepve(tmp_path, guests(40)) as pve:
        ProxmoxAPI(pve.host, port=pve.port, user=pve.user, password=pve.password, ...)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxmoxer import ProxmoxAPI

TESTS = Path(__file__).resolve().parents[1]
USER = "root@pam"
PASSWORD = "secret"
START_TIMEOUT = 20.0
_LISTENING = re.compile(r"fakepve listening on https://([\d.]+):(\d+)")


@dataclass(frozen=True, slots=True)
class FakePve:
    """A running fakepve: where it listens, its process, its certificate."""

    host: str
    port: int
    pid: int
    cafile: Path
    user: str = USER
    password: str = PASSWORD

    @property
    def endpoint(self) -> str:
        return self.host

    def client(self) -> ProxmoxAPI:
        """A proxmoxer session as root, for tests that change the fake between runs."""
        return ProxmoxAPI(
            self.host, port=self.port, user=self.user, password=self.password,
            verify_ssl=str(self.cafile), timeout=10,
        )  # fmt: skip


def guests(
    count: int, nodes: Sequence[str] = ("pve1", "pve2"), *, lxc_every: int = 5
) -> list[dict[str, Any]]:
    """``count`` guests spread over ``nodes``: QEMU VMs with a disk and a NIC, every
    ``lxc_every``-th one a container, Chatsubo labels in every third guest's notes."""
    made = []
    for index in range(count):
        notes = f"owner: team-{index % 4}"
        if index % 3 == 0:
            notes += f"\nchatsubo.template=web-{index % 7}\nchatsubo.realm=realm-{index % 2}"
        is_container = bool(lxc_every) and index % lxc_every == lxc_every - 1
        guest = _container(index, notes) if is_container else _vm(index, notes)
        made.append({"vmid": 100 + index, "node": nodes[index % len(nodes)], **guest})
    return made


def _container(index: int, notes: str) -> dict[str, Any]:
    high, low = index >> 8 & 255, index & 255
    nic = f"name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:{high:02X}:{low:02X},ip=10.1.{high}.{low}/16"
    config = {"description": notes, "cores": 1, "memory": 512, "tags": "ct", "net0": nic}
    return {"type": "lxc", "name": f"ct-{100 + index}", "status": "running", "config": config}


def _vm(index: int, notes: str) -> dict[str, Any]:
    vmid, high, low = 100 + index, index >> 8 & 255, index & 255
    config = {
        "description": notes,
        "cores": 2,
        "sockets": 1,
        "memory": 2048,
        "ostype": "l26",
        "scsi0": f"local-lvm:vm-{vmid}-disk-0,size=32G",
        "net0": f"virtio=BC:24:11:01:{high:02X}:{low:02X},bridge=vmbr0",
        "tags": "web;prod" if index % 2 else "db",
    }
    status = "running" if index % 4 else "stopped"
    return {"name": f"vm-{vmid}", "status": status, "config": config}


@contextmanager
def running_fakepve(
    workdir: Path,
    guest_list: Sequence[Mapping[str, Any]],
    *,
    offline_nodes: Sequence[str] = (),
    api_tokens: Mapping[str, str] | None = None,
    failures: Sequence[tuple[str, str, int, str, int]] = (),
    time_scale: float = 0,
) -> Iterator[FakePve]:
    """Start fakepve on a free loopback port; stop it (by its pid) on leaving.

    ``offline_nodes`` are nodes PVE would show offline (every request for them
    answers 595, as for a node that lost the cluster);
    ``api_tokens`` maps ``user@realm!name`` to its secret; each of ``failures``,
    ``(method, path suffix, status, message, times)``, makes that many requests fail
    (fakepve's ``fail``). ``time_scale`` makes PVE's seconds real ones (0: every task
    ends at once); a guest's ``"timings"`` (``{"shutdown_secs": 10}``) are how long its
    tasks take in PVE seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "fakepve.json"
    scenario.write_text(json.dumps({
        "guests": list(guest_list), "offline_nodes": list(offline_nodes),
        "api_tokens": dict(api_tokens or {}), "failures": [list(f) for f in failures],
        "time_scale": time_scale,
    }))  # fmt: skip
    log_path = workdir / "fakepve.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulators.fakepve", str(scenario), "--certdir", str(workdir)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        host, port = _wait_listening(process, log_path)
        yield FakePve(host=host, port=port, pid=process.pid, cafile=workdir / "fakepve.crt")
    finally:
        stop(process)


def _wait_listening(process: subprocess.Popen[bytes], log_path: Path) -> tuple[str, int]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return found.group(1), int(found.group(2))
        if process.poll() is not None:
            break
        time.sleep(0.02)
    stop(process)
    raise RuntimeError(f"fakepve did not start: {log_path.read_text(errors='replace')[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the child by its pid: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the child process ---------------------------------------------------------------


async def _serve(scenario: dict[str, Any], certdir: str) -> None:
    from fakepve import FakePve as Server
    from fakepve.certs import make_cert

    pve = Server(user=USER, password=PASSWORD, host="127.0.0.1", port=0)
    pve.time_scale = scenario.get("time_scale", 0)
    for guest in scenario["guests"]:  # as fakepve's own command line loads them
        common = {
            "node": guest.get("node", "pve1"),
            "status": guest.get("status", "stopped"),
            "config": guest.get("config", {}),
            "template": guest.get("template", False),
        }
        if guest.get("type", "qemu") == "lxc":
            pve.add_ct(guest["vmid"], guest.get("name"), **common)
        else:
            vm = pve.add_vm(guest["vmid"], guest["name"], **common)
            for name, seconds in guest.get("timings", {}).items():
                setattr(vm, name, seconds)
    for node in scenario["offline_nodes"]:
        pve.set_node_offline(node)
    pve.apitokens.update(scenario["api_tokens"])
    for method, suffix, status, message, times in scenario["failures"]:
        pve.fail(method, suffix, status, message, times=times)
    certfile, keyfile, _ = make_cert(certdir, hosts=("127.0.0.1",))
    await pve.start(certfile, keyfile)
    print(f"fakepve listening on https://{pve.host}:{pve.port}", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    await pve.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="fakepve with a scenario (tests only)")
    parser.add_argument("scenario")
    parser.add_argument("--certdir", required=True)
    args = parser.parse_args()
    scenario = json.loads(Path(args.scenario).read_text())
    asyncio.run(_serve(scenario, args.certdir))


if __name__ == "__main__":
    main()
