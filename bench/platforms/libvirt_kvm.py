"""libvirt:kvm: resources/s collecting a 5,000-domain libvirt host, against raw libvirt.

The host is libvirt's own test driver loaded from one XML file (``test:///PATH.xml``,
written by ``tests/emulators/libvirt_host.py``): 5,000 running domains, each with a
volume and one or two NICs, two networks, two pools. Measured in the same run:

- plugin: the built-in plugin in a real child process, as the service runs it (its
  own environment built from its requirements.txt, confined, reading the file through
  ``plugin_readable``): ``configure`` + ``collect``, every record of every
  ``collect.batch`` checked as the service checks it (``to_record``), no database;
- baseline: the same URI read by hand in this process, the way a script would list VMs:
  ``openReadOnly`` + ``listAllDomains`` + ``info()`` per domain. It reads the domains
  only (no XML, disks, NICs, storage or networks), so it is a floor, not a rival.

Opening the file (libvirt parsing 5,000 domain definitions) is most of both figures;
it is reported on its own. Prints one JSON line::

    python bench/platforms/libvirt_kvm.py [--domains 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the emulator helpers live with the tests

import libvirt  # noqa: E402
from _child import Records, collect, plugin_environment  # noqa: E402

from emulators.libvirt_host import standard_host  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "libvirt" / "kvm"
CLASS_PATH = "provider.LibvirtKvmProvider"
DOMAINS = 5000
BATCH_SIZE = 1000


def baseline(uri: str) -> tuple[float, float, int]:
    """``(open seconds, list + info seconds, domains)`` of a hand-written read."""
    started = time.perf_counter()
    connection = libvirt.openReadOnly(uri)
    opened = time.perf_counter()
    try:
        infos = [domain.info() for domain in connection.listAllDomains()]
    finally:
        connection.close()
    return opened - started, time.perf_counter() - opened, len(infos)


def plugin(uri: str, workdir: Path) -> tuple[float, int, dict[str, int]]:
    """``(seconds, resources, per type)`` of the plugin collecting in a child process."""
    environment, manifest = plugin_environment(PLUGIN_DIR, workdir, readable=[workdir / "host"])
    records = Records(manifest)
    credential = {"hostname": uri}
    seconds, _ = collect(environment, CLASS_PATH, records, credential, batch_size=BATCH_SIZE)
    return seconds, records.total, records.kinds


def run(domains: int = DOMAINS) -> dict[str, object]:
    """Collect a ``domains``-domain host with the plugin and by hand; the figures."""
    with tempfile.TemporaryDirectory(prefix="estate-bench-libvirt-") as tmp:
        readable = Path(tmp) / "host"  # the plugin may read this, never the data dir
        readable.mkdir()
        uri = standard_host(domains).write(readable / "host.xml")
        open_seconds, loop_seconds, listed = baseline(uri)
        seconds, resources, kinds = plugin(uri, Path(tmp))
    if listed != domains or kinds.get("virtual_machine") != domains:
        raise SystemExit(f"expected {domains} domains: baseline {listed}, plugin {kinds}")
    baseline_seconds = open_seconds + loop_seconds
    return {
        "bench": "platform-libvirt-kvm",
        "domains": domains,
        "resources": resources,
        "resources_by_type": kinds,
        "seconds": round(seconds, 3),
        "resources_per_second": round(resources / seconds, 1),
        "baseline": "openReadOnly + listAllDomains + info() per domain, in-process",
        "baseline_seconds": round(baseline_seconds, 3),
        "baseline_open_seconds": round(open_seconds, 3),
        "baseline_domains_per_second": round(domains / baseline_seconds, 1),
        "ratio_to_baseline": round(seconds / baseline_seconds, 2),
        "seconds_beyond_baseline_open": round(seconds - open_seconds, 3),
        "baseline_seconds_beyond_open": round(loop_seconds, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=DOMAINS)
    args = parser.parse_args()
    print(json.dumps(run(args.domains)), flush=True)


if __name__ == "__main__":
    main()
