"""Upload-to-ready time: a plugin with one small requirement against one without.

Prints one JSON line. Each upload goes through the registry as the API's upload does
(archive checks, manifest, immutable store, uv environment, ``define`` in a child
process) on a real SQLite database, waiting until the version is ``ready``. The
requirement is a small pure-Python wheel shipped in the archive's ``wheels/`` folder
and installed offline, so no index is reached and the figure is uv's own work. The
baseline, measured in the same run, is the same plugin without requirements (it
runs in the shared SDK environment: nothing to install).

Then the verification time per start: the check of a stored version's files against
its file list that precedes every plugin process start (``runtime.integrity.verify``,
every file hashed, no cache), for the uploaded plugin and for the largest built-in
(vmware:vcenter), against the baseline of the same run: a whole process start of the
uploaded plugin (spawn, handshake, stop; the check included).

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

from sqlalchemy import select

from estate.bootstrap import prepare
from estate.calls.specs import environment_of
from estate.config import Settings
from estate.context import Context
from estate.db.models import PluginVersion
from estate.registry.install import install_archive
from estate.registry.versions import active_version
from estate.runtime.environments import plugin_folder
from estate.runtime.host import PluginProcess
from estate.runtime.integrity import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import manifest, plugin_dir, tarball, wheel


def archive(root: Path, version: str, with_requirement: bool) -> bytes:
    # The seed's plugin (myvendor:myplatform), as tests/fixtures/plugins/seed holds it.
    data = manifest(version=version)
    folder = plugin_dir(
        root / version,
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


def verify_ms(version: PluginVersion, times: int) -> tuple[float, int]:
    """Median ms of one check of ``version``'s files; and how many files it covers."""
    folder, files = plugin_folder(Path(version.path)), version.files
    assert files is not None
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        verify(folder, files)
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), len(files)


def start_ms(version: PluginVersion, settings: Settings, times: int) -> float:
    """Median ms of a whole plugin process start and stop (the check included)."""
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        with PluginProcess(environment_of(version, settings), version.class_path):
            pass
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def starts(context: Context, times: int) -> dict[str, object]:
    with context.sessions() as session:
        uploaded = active_version(session, "myvendor:myplatform")
        # Its environment is not built here (offline): its files are checked all the same.
        vcenter = session.scalar(select(PluginVersion).where(PluginVersion.key == "vmware:vcenter"))
        assert uploaded is not None and vcenter is not None
        check, files = verify_ms(uploaded, times * 20)
        big, big_files = verify_ms(vcenter, times * 20)
        start = start_ms(uploaded, context.settings, times)
    return {
        "verify_ms_per_start_p50": round(check, 3),
        "verify_files": files,
        "verify_vcenter_ms_per_start_p50": round(big, 3),
        "verify_vcenter_files": big_files,
        "process_start_ms_p50": round(start, 1),
        "verify_share_of_start": round(check / start, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10, help="uploads of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data",
            admin_password="bench-password",
            offline=True,
            unsigned_plugins="allow",
        )
        context = Context.from_settings(settings)
        try:
            prepare(context)  # migrations, the built-in plugins, the shared SDK environment
            with_req, without = [], []
            for i in range(args.uploads):  # interleaved: load bursts hit both kinds
                with_req.append(upload_ms(context, archive(root, f"1.{i}.0", True)))
                without.append(upload_ms(context, archive(root, f"2.{i}.0", False)))
            verification = starts(context, args.uploads)
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
                **verification,
                "cpu_count": os.cpu_count(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
