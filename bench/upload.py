"""Upload-to-ready time: a plugin with one small requirement against one without.

Prints one JSON line. Each upload goes through the registry as the API's upload does
(archive checks, manifest, immutable store, uv environment, ``define`` in a child
process) on a real SQLite database, waiting until the version is ``ready``. The
requirement is a small pure-Python wheel shipped in the archive's ``wheels/`` folder
and installed offline, so no index is reached and the figure is uv's own work. The
baseline, measured in the same run, is the same plugin without requirements (it
runs in the shared SDK environment: nothing to install).

    python bench/upload.py --uploads 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from estate.bootstrap import prepare
from estate.config import Settings
from estate.context import Context
from estate.registry.install import install_archive

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import TEST_PROVIDER, manifest, plugin_dir, tarball, wheel


def archive(root: Path, version: str, with_requirement: bool) -> bytes:
    # The tests' TestProvider (test:plugin), whose collect() yields a few VMs.
    data = manifest(namespace="test", name="plugin", vendor="test", provider_type="plugin")
    data["version"] = version
    folder = plugin_dir(
        root / version,
        provider=TEST_PROVIDER.replace("{methods}", ""),
        manifest_data=data,
        requirements="tinydep==1.0\n" if with_requirement else "",
    )
    if with_requirement:
        wheel(folder / "wheels", "tinydep", "1.0", "VERSION = '1.0'\n")
    return tarball(folder)


def upload_ms(context: Context, data: bytes) -> float:
    started = time.perf_counter()
    with context.sessions() as session:
        version, _ = install_archive(session, context.settings, data, wait=True)
        assert version.state == "ready", version.error
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10, help="uploads of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", admin_password="bench-password", offline=True)
        context = Context.from_settings(settings)
        try:
            prepare(context)  # migrations, the built-in plugins, the shared SDK environment
            with_req, without = [], []
            for i in range(args.uploads):  # interleaved: load bursts hit both kinds
                with_req.append(upload_ms(context, archive(root, f"1.{i}.0", True)))
                without.append(upload_ms(context, archive(root, f"2.{i}.0", False)))
        finally:
            context.close()
    one, none = statistics.median(with_req), statistics.median(without)
    print(
        json.dumps(
            {
                "bench": "upload",
                "uploads": args.uploads,
                "one_requirement_ready_ms_p50": round(one, 1),
                "one_requirement_ready_ms_min": round(min(with_req), 1),
                "no_requirement_ready_ms_p50": round(none, 1),
                "ratio": round(one / none, 2),
                "requirement": "tinydep 1.0, a pure-Python wheel from the archive's wheels/ (offline)",
                "cpu_count": os.cpu_count(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
