"""libvirt's test driver behind a real ``libvirtd``, so that every process sees one host.

``test:///…`` opened in a process is that process's own in-memory host: an action run
in the provider's long-lived process would change a host the collection (another
process) never sees. Debian's ``libvirtd`` (package ``libvirt-daemon``) holds the test
driver too; a client reaches it with ``test+unix:///default?socket=PATH``, and then
every connection, from any process, acts on the daemon's one ``test:///default`` host,
as connections to ``qemu:///system`` act on one KVM host.

The daemon here is private to a test: its sockets, config and pid file live in a
short folder of its own under /tmp (a socket's path has at most 107 bytes), removed after (read-write socket open to the plugin users, no authentication), and it
loads no driver module (``LIBVIRT_DRIVER_DIR`` names an empty folder): no QEMU, network
or storage driver state is touched, so any number of them run side by side. A
connection kept open by the test (:attr:`Daemon.host`) keeps the host alive and lets
the test shape it (define domains, make volumes) through libvirt itself.

    with running_daemon() as daemon:
        daemon.host.defineXML(...)
        provider endpoint: daemon.uri
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import libvirt

from emulators.libvirt_host import Domain, Nic, domain_uuid, domain_xml, mac_of

START_TIMEOUT = 15.0
IDLE_EXIT = 30  # seconds without a client
POOL = "default-pool"  # test:///default's one pool, at /default-pool
CONFIG = """\
unix_sock_dir = "{folder}"
unix_sock_rw_perms = "0777"
unix_sock_ro_perms = "0777"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:{folder}/libvirtd.log"
"""


@dataclass
class Daemon:
    """A running private libvirtd: the URI plugins use, and the test's own connection."""

    folder: Path
    process: subprocess.Popen[bytes]
    host: libvirt.virConnect

    @property
    def uri(self) -> str:
        return f"test+unix:///default?socket={self.folder / 'libvirt-sock'}"

    def add_domain(
        self, index: int, name: str, *, running: bool = True, gib: int = 20
    ) -> libvirt.virDomain:
        """Define domain ``index`` (fixed UUID and MAC) with one volume of its own in the
        pool and a NIC on the ``default`` network; start it unless told."""
        volume = self.host.storagePoolLookupByName(POOL).createXML(
            f"<volume><name>{name}.qcow2</name><capacity unit='GiB'>{gib}</capacity>"
            "<allocation unit='GiB'>2</allocation><target><format type='qcow2'/></target>"
            "</volume>",
            0,
        )
        domain = Domain(
            name=name,
            uuid=domain_uuid(index),
            disks=[volume.path()],
            nics=[Nic(mac=mac_of(index), network="default")],
        )
        defined = self.host.defineXML(domain_xml(domain))
        if running:
            defined.create()
        return defined


@contextmanager
def running_daemon() -> Iterator[Daemon]:
    """A private libvirtd serving ``test:///default``; stopped (and its folder removed) after."""
    binary = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
    if not Path(binary).exists():
        raise RuntimeError("libvirtd not found: install Debian's libvirt-daemon (make system)")
    folder = Path(tempfile.mkdtemp(prefix="estate-libvirtd-"))
    folder.chmod(0o755)
    (folder / "no-drivers").mkdir(exist_ok=True)
    config = folder / "libvirtd.conf"
    config.write_text(CONFIG.format(folder=folder), encoding="utf-8")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LIBVIRT_DRIVER_DIR": str(folder / "no-drivers"),
    }
    # --timeout: a daemon left without clients (its test died) exits on its own.
    argv = [binary, "--config", str(config), "--pid-file", str(folder / "libvirtd.pid")]
    process = subprocess.Popen(
        [*argv, "--timeout", str(IDLE_EXIT)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        host = _connect(folder, process)
        try:
            yield Daemon(folder, process, host)
        finally:
            host.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


def _connect(folder: Path, process: subprocess.Popen[bytes]) -> libvirt.virConnect:
    uri = f"test+unix:///default?socket={folder / 'libvirt-sock'}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = folder / "libvirtd.log"
            error += log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"libvirtd exited ({process.returncode}): {error.strip()}")
        if (folder / "libvirt-sock").exists():
            try:
                return libvirt.open(uri)
            except libvirt.libvirtError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"libvirtd did not answer on {folder} in {START_TIMEOUT:g} s")
        time.sleep(0.05)
