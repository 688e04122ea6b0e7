"""proxmox:pve: resources/s collecting 2,000 fakepve guests, against raw proxmoxer reads.

fakepve (a fake of the PVE API, test-only) serves 2,000 guests (QEMU VMs and LXC
containers, Chatsubo labels in some notes) on four nodes. Measured in the same run:

- plugin: the built-in plugin in a real child process, as the service runs it (its own
  environment built from its requirements.txt, confined): ``configure`` + ``collect``,
  every record checked as the service checks it (``to_record``), no database;
- baseline: the very requests the plugin makes (login, ``/version``,
  ``/cluster/status``, ``/cluster/resources``, one config per guest) by plain proxmoxer
  calls in this process, one after the other, then four at a time as the plugin reads.

Prints one JSON line::

    python bench/platforms/proxmox_pve.py [--guests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the emulator helpers live with the tests

from _child import Records, collect, plugin_environment  # noqa: E402
from proxmoxer import ProxmoxAPI  # noqa: E402

from emulators.fakepve import FakePve, guests, running_fakepve  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "proxmox" / "pve"
CLASS_PATH = "provider.ProxmoxProvider"
GUESTS = 2000
NODES = ("pve1", "pve2", "pve3", "pve4")
READERS = 4  # the plugin's CONFIG_READERS


def baseline(pve: FakePve, readers: int) -> tuple[float, int]:
    """``(seconds, requests)`` making the plugin's reads by hand with proxmoxer."""
    started = time.perf_counter()
    api = ProxmoxAPI(pve.host, port=pve.port, user=pve.user, password=pve.password,
                     verify_ssl=False, timeout=60)  # fmt: skip
    api.version.get()
    api.cluster.status.get()
    listing = api.cluster.resources.get()
    found = [g for g in listing if g["type"] in ("qemu", "lxc")]

    def config(guest: dict[str, Any]) -> dict[str, Any]:
        read: dict[str, Any] = api.nodes(guest["node"])(guest["type"])(guest["vmid"]).config.get()
        return read

    with ThreadPoolExecutor(readers) as pool:
        configs = list(pool.map(config, found))
    assert len(configs) == len(found)
    return time.perf_counter() - started, 4 + len(found)


def plugin(pve: FakePve, workdir: Path) -> tuple[float, dict[str, int]]:
    """``(seconds, resources per type)`` of the plugin collecting in a child process."""
    environment, manifest = plugin_environment(PLUGIN_DIR, workdir)
    records = Records(manifest)
    config = {"username": pve.user, "port": pve.port, "verify_ssl": False, "timeout": 60}
    credential = {"hostname": pve.host, "username": pve.user, "password": pve.password,
                  "port": pve.port, "extra": {"verify_ssl": False, "timeout": 60}}  # fmt: skip
    provider = {"name": "bench", "endpoint": pve.host, "connection_config": config}
    seconds, _ = collect(environment, CLASS_PATH, records, credential, provider, timeout=900)
    return seconds, records.kinds


def run(count: int = GUESTS) -> dict[str, object]:
    """Collect ``count`` guests with the plugin and by hand; the figures."""
    estate = guests(count, NODES)
    with tempfile.TemporaryDirectory(prefix="estate-bench-pve-") as tmp:
        folder = Path(tmp)
        with running_fakepve(folder / "fakepve", estate) as pve:
            baseline(pve, READERS)  # untimed: the first pass warms fakepve and this process
            serial_seconds, requests = baseline(pve, 1)
            parallel_seconds, _ = baseline(pve, READERS)
            seconds, kinds = plugin(pve, folder)
    guests_found = kinds.get("virtual_machine", 0) + kinds.get("template", 0)
    if guests_found != count:
        raise SystemExit(f"expected {count} guests, got {kinds}")
    resources = sum(kinds.values())
    return {
        "bench": "platform-proxmox-pve",
        "guests": count,
        "nodes": len(NODES),
        "resources": resources,
        "requests": requests,
        "config_readers": READERS,
        "seconds": round(seconds, 3),
        "resources_per_second": round(resources / seconds, 1),
        "baseline": "proxmoxer calls making the same requests, in-process",
        "baseline_serial_seconds": round(serial_seconds, 3),
        "baseline_parallel_seconds": round(parallel_seconds, 3),
        "ratio_to_serial_baseline": round(seconds / serial_seconds, 2),
        "ratio_to_parallel_baseline": round(seconds / parallel_seconds, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=GUESTS)
    args = parser.parse_args()
    print(json.dumps(run(args.guests)), flush=True)


if __name__ == "__main__":
    main()
