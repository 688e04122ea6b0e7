"""ipmi:bmc: collecting 30 ipmi_sim BMCs, one provider each, against raw pyghmi reads.

Each BMC is its own ipmi_sim process (Debian's openipmi) behind a 1 ms relay (a LAN's
delay; see tests/emulators/udp_latency.py), as the tests start them. The service runs
one collection per provider, each in a plugin process of its own; measured in the
same run:

- plugin: for each BMC, the built-in plugin in a real child process, as the service
  runs it (its own environment built from its requirements.txt, confined):
  ``configure`` + ``collect``, every record checked as the service checks it
  (``to_record``), no database. ``seconds`` sums those calls; ``wall_seconds`` adds
  the start and stop of the 30 processes; ``in_process_seconds`` is the same plugin
  class driven in this process (``inventory_providers.testing``), which shows what
  a fresh process costs (pyghmi's lazy imports, its I/O thread) apart from the code;
- baseline: the same IPMI reads (login, power, device id, GUID, boot device, FRU
  inventory, firmware, sensors, LAN settings, logout) by plain pyghmi calls in this
  process, BMC after BMC.

Prints one JSON line::

    python bench/platforms/ipmi_bmc.py [--bmcs 30]
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

from _child import Records, collect, plugin_environment  # noqa: E402
from pyghmi.ipmi.command import Command  # noqa: E402

from emulators.ipmi_sim import Bmc, running_bmcs  # noqa: E402
from inventory_providers.loader import load_class  # noqa: E402
from inventory_providers.testing import make_provider  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "ipmi" / "bmc"
CLASS_PATH = "provider.IpmiBmcProvider"
BMCS = 30


def baseline(bmcs: list[Bmc]) -> float:
    """Seconds making the plugin's reads by hand with pyghmi, one BMC after the other."""
    started = time.perf_counter()
    for bmc in bmcs:
        command = Command(bmc=bmc.host, userid=bmc.username.encode(),
                          password=bmc.password.encode(), port=bmc.port)  # fmt: skip
        assert command.get_power()["powerstate"] == "on"
        command.xraw_command(netfn=6, command=1)
        command.xraw_command(netfn=6, command=0x37)
        command.get_bootdev()
        assert dict(command.get_inventory())["System"]["Serial Number"] == bmc.serial
        list(command.get_firmware())
        assert len(list(command.get_sensor_data())) == 2
        command.get_net_configuration()
        command.ipmi_session.logout()
    return time.perf_counter() - started


def in_process(bmcs: list[Bmc]) -> float:
    """Seconds collecting every BMC with the plugin class in this process."""
    provider_class = load_class(PLUGIN_DIR, CLASS_PATH)
    started = time.perf_counter()
    for bmc in bmcs:
        config = {"username": bmc.username, "password": bmc.password, "port": bmc.port}
        with make_provider(provider_class, endpoint=bmc.host, connection_config=config) as provider:
            assert len(list(provider.collect())) == 2
    return time.perf_counter() - started


def plugin(bmcs: list[Bmc], workdir: Path) -> tuple[float, float, dict[str, int]]:
    """``(seconds in configure + collect, wall seconds, resources per type)``."""
    environment, manifest = plugin_environment(PLUGIN_DIR, workdir)
    records = Records(manifest)
    calls = 0.0
    wall = time.perf_counter()
    for bmc in bmcs:
        config = {"username": bmc.username, "port": bmc.port}
        credential = {"hostname": bmc.host, "username": bmc.username,
                      "password": bmc.password, "port": bmc.port, "extra": {}}  # fmt: skip
        provider = {
            "name": f"bench {bmc.serial}",
            "endpoint": bmc.host,
            "connection_config": config,
        }
        seconds, result = collect(
            environment, CLASS_PATH, records, credential, provider, timeout=120
        )
        calls += seconds
        if result.get("incomplete"):
            raise SystemExit(f"{bmc.serial}: incomplete {result['incomplete']}")
    return calls, time.perf_counter() - wall, records.kinds


def run(count: int = BMCS) -> dict[str, object]:
    """Collect ``count`` BMCs with the plugin and by hand; the figures."""
    with tempfile.TemporaryDirectory(prefix="estate-bench-ipmi-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        with running_bmcs(folder / "bmcs", count) as bmcs:
            start_seconds = time.perf_counter() - started
            baseline(bmcs)  # untimed: the first pass pays pyghmi's lazy imports here
            baseline_seconds = baseline(bmcs)
            in_process_seconds = in_process(bmcs)
            seconds, wall_seconds, kinds = plugin(bmcs, folder)
    if kinds != {"bare_metal": count, "bmc": count}:
        raise SystemExit(f"expected {count} servers and BMCs, got {kinds}")
    resources = sum(kinds.values())
    return {
        "bench": "platform-ipmi-bmc",
        "bmcs": count,
        "resources": resources,
        "emulators_start_seconds": round(start_seconds, 3),
        "seconds": round(seconds, 3),
        "wall_seconds": round(wall_seconds, 3),
        "resources_per_second": round(resources / seconds, 1),
        "seconds_per_bmc": round(seconds / count, 4),
        "baseline": "pyghmi calls making the same reads, in-process, BMC after BMC",
        "baseline_seconds": round(baseline_seconds, 3),
        "ratio_to_baseline": round(seconds / baseline_seconds, 2),
        "wall_ratio_to_baseline": round(wall_seconds / baseline_seconds, 2),
        "in_process_seconds": round(in_process_seconds, 3),
        "in_process_ratio_to_baseline": round(in_process_seconds / baseline_seconds, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bmcs", type=int, default=BMCS)
    args = parser.parse_args()
    print(json.dumps(run(args.bmcs)), flush=True)


if __name__ == "__main__":
    main()
