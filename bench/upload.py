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

Then install-from-remote: the data directory the uploads went into is exported as a
static index (``write_static_index``: its kept archives, byte for byte) and served by
``python -m http.server`` in a child process; a second data directory registers it,
syncs, and installs each signed one-requirement version (``install_remote``: choose,
download over HTTP, sha256 against the index, then the same install as an upload),
timed to ready against the upload-to-ready of that same archive in the first.
The uploads are signed (a key imported in both keyrings) since remote sources refuse
unsigned packages. ``UV_OFFLINE``/``UV_NO_INDEX`` keep uv off the network in the
second, which is not ``ESTATE_OFFLINE`` (that refuses remote installs).

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
from estate.db.models import PluginRepository, PluginVersion
from estate.registry.index import write_static_index
from estate.registry.install import install_archive
from estate.registry.keyring import import_key
from estate.registry.remote_install import install_remote
from estate.registry.remotes import sync
from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_text
from estate.registry.versions import latest_compatible
from estate.runtime.environments import plugin_folder
from estate.runtime.host import PluginProcess
from estate.runtime.integrity import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import manifest, plugin_dir, tarball, wheel
from served import static_server

KEY = "myvendor:myplatform"
SIGNER = new_private_key()


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
        sign_package(folder, SIGNER)  # installable from a remote source
    return tarball(folder)


def trust_signer(context: Context) -> None:
    with context.sessions() as session:
        public = public_text(SIGNER.public_key())
        import_key(session, name="bench", public_key=public, organization_id=None, created_by="")


def remote_installs(
    context: Context, receiver: Context, root: Path, versions: list[str]
) -> list[float]:
    """Install-to-ready ms of each of ``versions`` into ``receiver`` from ``context``'s
    data directory exported as a static index and served over HTTP."""
    with context.sessions() as session:
        write_static_index(session, context.settings, root / "site", [KEY])
    spent = []
    with static_server(root / "site") as (url, _), receiver.sessions() as session:
        repository = PluginRepository(name="bench", kind="static", url=url)
        session.add(repository)
        session.commit()
        sync(session, receiver.settings, receiver.box, repository)
        for version in versions:
            started = time.perf_counter()
            installed, _, _ = install_remote(
                session, receiver.settings, receiver.box, KEY, version, "bench"
            )
            assert installed.state == "ready" and installed.source == "remote", installed.error
            spent.append((time.perf_counter() - started) * 1000)
    return spent


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
        uploaded = latest_compatible(session, KEY)
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
    os.environ.update(UV_OFFLINE="1", UV_NO_INDEX="1")  # the receiver's uv: no network
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        common = {
            "admin_password": "bench-password",
            "unsigned_plugins": "allow",
            "environments_dir": root / "environments",
        }
        context = Context.from_settings(Settings(data_dir=root / "data", offline=True, **common))
        receiver = Context.from_settings(Settings(data_dir=root / "receiver", **common))
        try:
            prepare(context)  # migrations, the built-in plugins, the shared SDK environment
            prepare(receiver)
            trust_signer(context)
            trust_signer(receiver)
            with_req, without = [], []
            for i in range(args.uploads):  # interleaved: load bursts hit both kinds
                with_req.append(upload_ms(context, archive(root, f"1.{i}.0", True)))
                without.append(upload_ms(context, archive(root, f"2.{i}.0", False)))
            versions = [f"1.{i}.0" for i in range(args.uploads)]
            remote = remote_installs(context, receiver, root, versions)
            verification = starts(context, args.uploads)
        finally:
            context.close()
            receiver.close()
    one, none = statistics.median(with_req), statistics.median(without)
    fetched = statistics.median(remote)
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
                "remote_install_ready_ms_p50": round(fetched, 1),
                "remote_install_ready_ms_min": round(min(remote), 1),
                "remote_over_upload": round(fetched / one, 2),
                **verification,
                "cpu_count": os.cpu_count(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
