"""Action round trip on the platform emulators: request → plugin → platform → refreshed inventory.

For each platform asked (``--platform``, repeatable; default all), the platform's
emulator is started as the tests start it (``tests/emulators``), then ``estate serve``
as a child process (SQLite, only that platform's built-in plugin registered), and over
real HTTP with an API token:

- round trip: ``POST resources/{id}/actions/power_off/`` (then ``power_on``) until the
  action run is ``completed``, which includes the plugin's call (the provider's warm
  long-lived process) acting on the emulator and the targeted refresh (a collection of
  the acted-on resource's type, in a process of its own). ``-n`` of each, alternated,
  after a first pair that starts the long-lived process (its power_off is reported
  apart, ``first_round_trip_ms``);
- targeted refresh: each round trip's refresh run, as the service times it
  (``duration_seconds``); ``action_ms`` is a round trip less its refresh (the request,
  the job, the plugin's call, the polling);
- baseline, in the same run on the same provider: a full collection after each pair
  (``POST providers/{id}/collect/``), as the service times it and as the client waits
  for it.

Prints one JSON line per platform (``error`` instead of figures when one fails; the
others still run, and the exit status is 1).

    python bench/actions.py                               # every platform, -n 10
    python bench/actions.py --platform libvirt:kvm -n 20
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the emulator launchers the tests use

from emulators.fakepve import guests, running_fakepve  # noqa: E402
from emulators.ipmi_sim import running_bmc  # noqa: E402
from emulators.libvirt_daemon import running_daemon  # noqa: E402
from emulators.moto import moto_server  # noqa: E402
from emulators.sushy import sushy_emulator  # noqa: E402
from emulators.vcsim import Size, vcsim  # noqa: E402

API = "/api/inventory/v1"
ESTATE = Path(sys.executable).with_name("estate")
# Built once and kept between runs (as bench/platforms does): a start never times uv.
ENVIRONMENTS = Path(tempfile.gettempdir()) / "estate-bench-environments"
PASSWORD = "bench-password"
NOBODY = 65534  # nobody:nogroup on Debian: a plugin user libvirtd can name
ENDED = ("completed", "partial", "failed", "canceled")
POLL_S = 0.01


@dataclass
class Lab:
    """One platform's emulator seen as a provider: the body that creates it, the
    resource the actions act on, and what the service needs beside (``ESTATE_*``)."""

    body: dict[str, Any]
    is_target: Callable[[dict[str, Any]], bool]
    env: dict[str, str] = field(default_factory=dict)
    size: str = ""


def _body(vendor: str, kind: str, endpoint: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"bench {vendor}:{kind}", "infrastructure": "private_cloud",
            "vendor": vendor, "provider_type": kind, "endpoint": endpoint,
            "organization": 1, "connection_config": config}  # fmt: skip


@contextmanager
def simulated(workdir: Path) -> Iterator[Lab]:
    config = {"clusters": 2, "hosts_per_cluster": 4, "vms_per_host": 50}
    yield Lab(
        _body("simulated", "datacenter", "dc.local", config),
        lambda r: r["resource_type"] == "virtual_machine" and r["state"] == "running",
        size="2 clusters x 4 hosts x 50 VMs",
    )


@contextmanager
def vmware(workdir: Path) -> Iterator[Lab]:
    size = Size(clusters=2, hosts_per_cluster=4, standalone_hosts=2, vms=10)
    with vcsim(size) as simulator:
        yield Lab(
            _body("vmware", "vcenter", simulator.host, simulator.connection_config()),
            lambda r: r["name"] == "DC0_H0_VM0",
            size=f"vcsim, {size.hosts} hosts, {size.total_vms} VMs",
        )


@contextmanager
def proxmox(workdir: Path) -> Iterator[Lab]:
    with running_fakepve(workdir / "fakepve", guests(100)) as pve:
        config = {"username": pve.user, "password": pve.password, "port": pve.port,
                  "verify_ssl": False}  # fmt: skip
        yield Lab(
            _body("proxmox", "pve", pve.host, config),
            lambda r: r["ems_ref"] == "qemu/101",
            size="fakepve, 2 nodes, 100 guests",
        )


@contextmanager
def libvirt(workdir: Path) -> Iterator[Lab]:
    with running_daemon() as daemon:
        for index in range(1, 21):
            daemon.add_domain(index, f"vm{index:02d}")
        yield Lab(
            _body("libvirt", "kvm", daemon.uri, {"timeout": 10}),
            lambda r: r["name"] == "vm01",
            # libvirtd names every client by its passwd entry (docs/providers/libvirt:kvm.md)
            env={
                "ESTATE_PLUGIN_READABLE": json.dumps([str(daemon.folder)]),
                "ESTATE_PLUGIN_UID": str(NOBODY),
                "ESTATE_PLUGIN_GID": str(NOBODY),
            },
            size="private libvirtd (test driver), 20 domains",
        )


@contextmanager
def aws(workdir: Path) -> Iterator[Lab]:
    with moto_server(log=workdir / "moto.log") as moto:
        moto.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=50, MaxCount=50)
        config = {"username": "AKIAIOSFODNN7EXAMPLE", "region": "us-east-1",
                  "password": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "services": ["ec2", "ebs", "vpc"]}  # fmt: skip
        yield Lab(
            _body("aws", "aws", moto.url, config),
            lambda r: r["resource_type"] == "virtual_machine",
            size="moto, 50 instances; services ec2, ebs, vpc",
        )


@contextmanager
def ipmi(workdir: Path) -> Iterator[Lab]:
    with running_bmc(workdir / "bmc") as bmc:
        config = {"username": bmc.username, "password": bmc.password, "port": bmc.port}
        yield Lab(
            _body("ipmi", "bmc", bmc.host, config),
            lambda r: r["ems_ref"] == "system",
            size="one ipmi_sim BMC behind a 1 ms relay",
        )


@contextmanager
def redfish(workdir: Path) -> Iterator[Lab]:
    user, password = "redfish-reader", "Bmc-s3cret-pass"
    with sushy_emulator("test:///default", workdir / "sushy", auth=(user, password)) as bmc:
        config = {"username": user, "password": password, "verify_ssl": False}
        yield Lab(
            _body("redfish", "bmc", bmc.url, config),
            lambda r: r["ems_ref"].startswith("/redfish/v1/Systems/"),
            size="sushy-emulator over test:///default, one system",
        )


PLATFORMS: dict[str, Callable[[Path], Any]] = {
    "simulated:datacenter": simulated,
    "vmware:vcenter": vmware,
    "proxmox:pve": proxmox,
    "libvirt:kvm": libvirt,
    "aws:aws": aws,
    "ipmi:bmc": ipmi,
    "redfish:bmc": redfish,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(workdir: Path, key: str, env: dict[str, str]) -> Iterator[httpx.Client]:
    """``estate serve`` with ``key``'s built-in plugin only, on a free port; a client
    holding an admin token. The service is killed (its process group) on the way out."""
    vendor, kind = key.split(":")
    plugins = workdir / "plugins"
    shutil.copytree(REPO / "plugins" / vendor / kind, plugins / vendor / kind)
    port = _free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    child_env.update(ESTATE_DATA_DIR=str(workdir / "data"), ESTATE_ADMIN_PASSWORD=PASSWORD,
                     ESTATE_BUILTIN_PLUGINS_DIR=str(plugins),
                     ESTATE_ENVIRONMENTS_DIR=str(ENVIRONMENTS), **env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ESTATE), "serve", "--port", str(port)], env=child_env, cwd=workdir,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_answering(process, url, log_path)
        with httpx.Client(base_url=url + API, timeout=120) as client:
            made = client.post("/tokens/", json={"name": "bench"}, auth=("admin", PASSWORD))
            made.raise_for_status()
            client.headers["Authorization"] = f"Bearer {made.json()['token']}"
            _wait_ready(client, key)
            yield client
    except Exception:
        sys.stderr.write(f"estate serve's log ends:\n{log_path.read_text()[-3000:]}\n")
        raise
    finally:
        os.killpg(process.pid, 9)
        process.wait(timeout=10)


def _wait_answering(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 180  # the first start builds the plugin's environment
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"estate serve ended: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}{API}/ping/", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"estate serve did not answer in 180 s: {log_path}")
        time.sleep(0.2)


def _wait_ready(client: httpx.Client, key: str) -> None:
    """A managed plugin whose environment is not built yet is prepared in the
    background: wait for it (never timed)."""
    deadline = time.monotonic() + 300
    while (plugin := client.get(f"/provider-plugins/{key}/").json())["state"] != "ready":
        if plugin["state"] == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"{key} is {plugin['state']}: {plugin['error']}")
        time.sleep(0.2)


def _wait(client: httpx.Client, path: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(path).raise_for_status().json()
        if run["status"] in ENDED:
            return run
        time.sleep(POLL_S)
    raise RuntimeError(f"{path} did not end in {timeout:g} s")


def _collect(client: httpx.Client, provider: int) -> tuple[float, dict[str, Any]]:
    """``(client-side ms, the run)`` of one full collection; fails unless it completed."""
    started = time.perf_counter()
    answer = client.post(f"/providers/{provider}/collect/").raise_for_status()
    run = _wait(client, f"/collection-runs/{answer.json()['id']}/")
    if run["status"] != "completed":
        raise RuntimeError(f"collection {run['status']}: {run['error_message']}")
    return (time.perf_counter() - started) * 1000, run


def _act(client: httpx.Client, resource: int, name: str) -> tuple[float, float, int]:
    """``(round trip ms, refresh ms, resources refreshed)`` of one action run."""
    started = time.perf_counter()
    answer = client.post(f"/resources/{resource}/actions/{name}/", json={"params": {}})
    answer.raise_for_status()
    run = _wait(client, f"/action-runs/{answer.json()['id']}/")
    trip_ms = (time.perf_counter() - started) * 1000
    if run["status"] != "completed" or run["refresh_run"] is None:
        raise RuntimeError(f"{name} {run['status']}: {run['error']}\n{run['log']}")
    refresh = client.get(f"/collection-runs/{run['refresh_run']}/").raise_for_status().json()
    if refresh["status"] != "completed":
        raise RuntimeError(f"{name}'s refresh {refresh['status']}: {refresh['error_message']}")
    return trip_ms, refresh["duration_seconds"] * 1000, refresh["resources_found"]


def _target(client: httpx.Client, provider: int, lab: Lab) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    page: dict[str, Any] = {"next": f"/resources/?provider={provider}"}
    while page["next"]:
        page = client.get(page["next"]).raise_for_status().json()
        found += [r for r in page["results"] if lab.is_target(r)]
    if not found:
        raise RuntimeError("the collection shows no resource to act on")
    return min(found, key=lambda r: str(r["ems_ref"]))


def measure(key: str, pairs: int) -> dict[str, Any]:
    """One platform's figures: its emulator, a service of its own, ``pairs`` pairs."""
    with tempfile.TemporaryDirectory(prefix="estate-bench-actions-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # plugin users reach the folders the emulators put here
        with PLATFORMS[key](workdir) as lab, serving(workdir, key, lab.env) as client:
            provider = client.post("/providers/", json=lab.body).raise_for_status().json()["id"]
            _, first = _collect(client, provider)
            resource = _target(client, provider, lab)
            if resource["state"] != "running":
                _act(client, resource["id"], "power_on")
            first_ms = _act(client, resource["id"], "power_off")[0]
            _act(client, resource["id"], "power_on")
            trips, refreshes, full_ms, full_wall_ms = [], [], [], []
            for _ in range(pairs):  # interleaved: load bursts hit both sides alike
                for name in ("power_off", "power_on"):
                    trip, refresh, refreshed = _act(client, resource["id"], name)
                    trips.append(trip)
                    refreshes.append(refresh)
                wall, run = _collect(client, provider)
                full_wall_ms.append(wall)
                full_ms.append(run["duration_seconds"] * 1000)
    actions = [trip - refresh for trip, refresh in zip(trips, refreshes, strict=True)]
    return {
        "bench": f"actions/{key}",
        "estate": lab.size,
        "resources": first["resources_found"],
        "refreshed_resources": refreshed,
        "round_trips": len(trips),
        "first_round_trip_ms": round(first_ms, 1),
        "round_trip_ms_p50": _ms(statistics.median(trips)),
        "round_trip_ms_p99": _ms(_percentile(trips, 0.99)),
        "action_ms_p50": _ms(statistics.median(actions)),
        "targeted_refresh_ms_p50": _ms(statistics.median(refreshes)),
        "full_collection_ms_p50": _ms(statistics.median(full_ms)),
        "full_collection_wall_ms_p50": _ms(statistics.median(full_wall_ms)),
        "refresh_over_full": round(statistics.median(refreshes) / statistics.median(full_ms), 2),
    }


def _percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest sample with at least ``share`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _ms(value: float) -> float:
    return round(value, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="vendor:type to measure; repeat for more (default: all)")  # fmt: skip
    parser.add_argument("-n", type=int, default=10, help="power_off/power_on pairs (default 10)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error(f"-n must be at least 1, not {args.n}")
    failed = 0
    for key in args.platform or list(PLATFORMS):
        try:
            figures = measure(key, args.n)
        except Exception:  # one platform failing must not hide the others' figures
            failed += 1
            traceback.print_exc()
            figures = {"bench": f"actions/{key}", "error": "failed; see stderr"}
        print(json.dumps(figures), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
