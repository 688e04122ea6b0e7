"""vmware:vcenter: resources/s and round trips per resource collecting 1,500 VMs from vcsim,
against an object-by-object reader of the same simulator.

vcsim (``tests/emulators/vcsim``, built by ``make platforms``) serves 1,500 VMs on 105
ESXi hosts: 10 clusters of 10 hosts and 5 standalone hosts. Round trips are counted
by vcsim itself, by SOAP method. Measured in the same run:

- plugin: the built-in plugin in a real child process, as the service runs it (its
  own environment built from its requirements.txt, confined): ``configure`` +
  ``collect``, every record of every ``collect.batch`` checked as the service checks
  it (``to_record``), no database;
- baseline: what a naive plugin does, in this process: walk the inventory with
  pyVmomi's lazy attributes (``dc.vmFolder.childEntity``, then ``vm.summary``,
  ``vm.runtime``, ``vm.guest``… per VM), one round trip per attribute and object, for
  the same VMs, hosts, clusters, datastores and networks (pyVmomi sends each read as
  a ``Fetch``). It never asks the root folder for its ``parent`` (this vcsim drops
  the connection when asked).

Prints one JSON line::

    python bench/platforms/vmware_vcenter.py [--vms-per-pool 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the emulator helpers live with the tests

from _child import Records, collect, plugin_environment  # noqa: E402
from pyVim.connect import Disconnect, SmartConnect  # noqa: E402
from pyVmomi import vim  # noqa: E402

from emulators.vcsim import Size, Vcsim, delta, vcsim  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "vmware" / "vcenter"
CLASS_PATH = "provider.VCenterProvider"
BATCH_SIZE = 1000


def plugin(simulator: Vcsim, workdir: Path) -> tuple[float, dict[str, int], dict[str, int]]:
    """``(seconds, resources per type, requests served)`` of the plugin in a child."""
    environment, manifest = plugin_environment(PLUGIN_DIR, workdir)
    records = Records(manifest)
    credential = {
        "hostname": simulator.host,
        "username": "administrator@vsphere.local",
        "password": "bench",
        "port": simulator.port,
        "extra": {"verify_ssl": False},
    }
    before = simulator.requests()
    seconds, _ = collect(environment, CLASS_PATH, records, credential, batch_size=BATCH_SIZE)
    return seconds, records.kinds, delta(before, simulator.requests())


def baseline(simulator: Vcsim) -> tuple[float, dict[str, int], dict[str, int]]:
    """``(seconds, objects per type, requests served)`` of an object-by-object read."""
    before = simulator.requests()
    started = time.perf_counter()
    instance = SmartConnect(
        host=simulator.host, port=simulator.port, user="u", pwd="p", disableSslCertValidation=True
    )
    counts = {"datacenter": 0, "cluster": 0, "host": 0, "datastore": 0, "network": 0, "vm": 0}
    try:
        for dc in instance.content.rootFolder.childEntity:
            counts["datacenter"] += 1
            _ = dc.name
            for compute in dc.hostFolder.childEntity:
                if isinstance(compute, vim.ClusterComputeResource):
                    counts["cluster"] += 1
                    _ = (compute.name, compute.summary)
                for host in compute.host:
                    counts["host"] += 1
                    _ = (host.name, host.summary, host.runtime, host.parent.name)
            for store in dc.datastore:
                counts["datastore"] += 1
                _ = (store.name, store.summary)
            for network in dc.network:
                counts["network"] += 1
                _ = network.name
            for vm in _machines(dc.vmFolder):
                counts["vm"] += 1
                _ = (vm.name, vm.summary, vm.guest, vm.resourcePool)
                runtime = vm.runtime
                _ = (runtime.powerState, runtime.host.name)
                _ = ([d._moId for d in vm.datastore], [n._moId for n in vm.network])
    finally:
        Disconnect(instance)
    seconds = time.perf_counter() - started
    return seconds, counts, delta(before, simulator.requests())


def _machines(folder: Any) -> Any:
    for child in folder.childEntity:
        if isinstance(child, vim.Folder):
            yield from _machines(child)
        elif isinstance(child, vim.VirtualMachine):
            yield child


def run(vms_per_pool: int = 100) -> dict[str, object]:
    """Collect 15 x ``vms_per_pool`` VMs on 105 hosts with the plugin and by hand."""
    size = Size(clusters=10, hosts_per_cluster=10, standalone_hosts=5, vms=vms_per_pool)
    with tempfile.TemporaryDirectory(prefix="estate-bench-vcenter-") as tmp:
        started = time.perf_counter()
        with vcsim(size) as simulator:
            start_seconds = time.perf_counter() - started
            seconds, kinds, served = plugin(simulator, Path(tmp))
            base_seconds, base_counts, base_served = baseline(simulator)
    if kinds.get("virtual_machine") != size.total_vms or base_counts["vm"] != size.total_vms:
        raise SystemExit(f"expected {size.total_vms} VMs: plugin {kinds}, baseline {base_counts}")
    resources, trips, base_trips = (
        sum(kinds.values()),
        sum(served.values()),
        sum(base_served.values()),
    )
    return {
        "bench": "platform-vmware-vcenter",
        "vms": size.total_vms,
        "hosts": size.hosts,
        "resources": resources,
        "resources_by_type": kinds,
        "seconds": round(seconds, 3),
        "resources_per_second": round(resources / seconds, 1),
        "round_trips": trips,
        "round_trips_per_resource": round(trips / resources, 5),
        "round_trips_by_method": served,
        "baseline": "pyVmomi lazy attributes, object by object (datacenters, clusters, "
        "hosts, datastores, networks, VMs), in-process",
        "baseline_seconds": round(base_seconds, 3),
        "baseline_objects": sum(base_counts.values()),
        "baseline_round_trips": base_trips,
        "baseline_round_trips_per_object": round(base_trips / sum(base_counts.values()), 2),
        "speedup_over_baseline": round(base_seconds / seconds, 1),
        "vcsim_start_seconds": round(start_seconds, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms-per-pool", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(run(args.vms_per_pool)), flush=True)


if __name__ == "__main__":
    main()
