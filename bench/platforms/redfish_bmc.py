"""redfish:bmc: resources/s collecting sushy-emulator's systems, against raw httpx GETs.

sushy-emulator (a real Redfish service) serves every domain of a libvirt test host as
a ComputerSystem with its own Manager, with basic auth on. It is slow by nature: each
request opens the libvirt file again (a dozen times for one ComputerSystem), so a
system costs more as the host grows; 100 systems (200 documents) keep the run near a
minute here. Measured in the same run:

- plugin: the built-in plugin in a real child process, as the service runs it (its own
  environment built from its requirements.txt, confined): ``configure`` + ``collect``,
  every record checked as the service checks it (``to_record``), no database;
- baseline: the same documents (service root, the two collections, every member) by
  plain httpx GETs in this process, one after the other and then with as many at a
  time as the plugin's ``concurrency``.

Prints one JSON line::

    python bench/platforms/redfish_bmc.py [--systems 100]
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

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the emulator helpers live with the tests

import httpx  # noqa: E402
from _child import Records, collect, plugin_environment  # noqa: E402

from emulators.libvirt_host import Domain, LibvirtHost, domain_uuid  # noqa: E402
from emulators.sushy import sushy_emulator  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "redfish" / "bmc"
CLASS_PATH = "provider.RedfishBmcProvider"
SYSTEMS = 100
CONCURRENCY = 4
USER, PASSWORD = "bench", "bench-password"


def servers(count: int) -> LibvirtHost:
    """``count`` servers, every eighth one powered off."""
    return LibvirtHost(
        domains=[
            Domain(
                name=f"node{i:04d}",
                uuid=domain_uuid(i),
                vcpus=2 + i % 4 * 2,
                memory_mib=4096 * (1 + i % 4),
                runstate="shutoff" if i % 8 == 7 else None,
            )
            for i in range(count)
        ]
    )


def baseline(url: str, concurrency: int) -> tuple[float, int]:
    """``(seconds, documents)`` fetching what the plugin reads, by hand."""
    started = time.perf_counter()
    with httpx.Client(base_url=url, auth=(USER, PASSWORD), timeout=60) as http:
        root = http.get("/redfish/v1/").json()
        members: list[str] = []
        for collection in ("Systems", "Managers"):
            page = http.get(root[collection]["@odata.id"]).json()
            members += [member["@odata.id"] for member in page["Members"]]
        with ThreadPoolExecutor(concurrency) as pool:
            documents = list(pool.map(lambda path: http.get(path).json(), members))
    assert all("@odata.id" in document for document in documents)
    return time.perf_counter() - started, 3 + len(documents)


def plugin(url: str, workdir: Path, concurrency: int) -> tuple[float, dict[str, int]]:
    """``(seconds, resources per type)`` of the plugin collecting in a child process."""
    environment, manifest = plugin_environment(PLUGIN_DIR, workdir)
    records = Records(manifest)
    credential = {
        "hostname": url,
        "username": USER,
        "password": PASSWORD,
        "extra": {"concurrency": concurrency, "timeout": 60},
    }
    seconds, _ = collect(environment, CLASS_PATH, records, credential, timeout=900)
    return seconds, records.kinds


def run(systems: int = SYSTEMS, concurrency: int = CONCURRENCY) -> dict[str, object]:
    """Collect ``systems`` servers with the plugin and by hand; the figures."""
    with tempfile.TemporaryDirectory(prefix="estate-bench-redfish-") as tmp:
        folder = Path(tmp)
        uri = servers(systems).write(folder / "servers.xml")
        with sushy_emulator(uri, folder / "sushy", auth=(USER, PASSWORD)) as bmc:
            # A fresh emulator for each reader: it memoizes the domains it has looked
            # up, which would make whoever comes second look faster.
            serial_seconds, documents = baseline(bmc.url, 1)
            bmc.restart()
            parallel_seconds, _ = baseline(bmc.url, concurrency)
            bmc.restart()
            seconds, kinds = plugin(bmc.url, folder, concurrency)
    if kinds != {"bare_metal": systems, "bmc": systems}:
        raise SystemExit(f"expected {systems} servers and BMCs, got {kinds}")
    resources = sum(kinds.values())
    return {
        "bench": "platform-redfish-bmc",
        "systems": systems,
        "resources": resources,
        "documents": documents,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "resources_per_second": round(resources / seconds, 1),
        "baseline": "httpx GETs of the same documents, in-process",
        "baseline_serial_seconds": round(serial_seconds, 3),
        "baseline_parallel_seconds": round(parallel_seconds, 3),
        "ratio_to_serial_baseline": round(seconds / serial_seconds, 2),
        "ratio_to_parallel_baseline": round(seconds / parallel_seconds, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=SYSTEMS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()
    print(json.dumps(run(args.systems, args.concurrency)), flush=True)


if __name__ == "__main__":
    main()
