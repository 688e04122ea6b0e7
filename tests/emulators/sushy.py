"""sushy-emulator (OpenStack's sushy-tools): a real Redfish service over a libvirt host.

Every domain of the libvirt host it is pointed at is a ComputerSystem with a Manager
of its own; with a libvirt test-driver file (``emulators.libvirt_host``) no daemon is
needed. It lists the file's domains again on every request but keeps each domain it has
read once, so a test changes the BMC between two collections by writing the file and
calling :meth:`Sushy.restart`.

:func:`sushy_emulator` starts it on a free loopback port, waits until ``/redfish/v1``
answers, and stops that very process (by its PID) when the block ends. With ``auth``
it writes an htpasswd file of bcrypt entries and HTTP basic auth is on; with ``tls``
it serves HTTPS with a self-signed certificate for 127.0.0.1.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import httpx

EMULATOR = Path(sys.executable).with_name("sushy-emulator")
START_TIMEOUT = 30.0


class Sushy:
    """A running sushy-emulator: its base URL, process id and log; :meth:`restart`."""

    def __init__(self, argv: list[str], url: str, log: Path) -> None:
        self.argv, self.url, self.log = argv, url, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        _wait_until_ready(self.process, self.url, self.log)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """A new process on the same port, which sees the libvirt host as it is now.

        sushy-emulator keeps every domain it has looked up (``_get_domain`` is
        memoized); over the test driver, whose every open is a private copy, a system
        once read keeps the state of that first read. A BMC that changed is shown by
        writing the host file, then restarting the emulator.
        """
        self.stop()
        self.start()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sushy_emulator(
    libvirt_uri: str,
    workdir: Path,
    *,
    auth: tuple[str, str] | None = None,
    tls: bool = False,
) -> Iterator[Sushy]:
    """sushy-emulator serving ``libvirt_uri`` on 127.0.0.1, until the block ends."""
    if not EMULATOR.is_file():
        raise AssertionError(
            f"{EMULATOR} is missing: install the platforms extra (make platforms) "
            "to test the Redfish plugin against sushy-emulator"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = ["SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'", f"SUSHY_EMULATOR_LISTEN_PORT = {port}"]
    if auth is not None:
        user, password = auth
        # Cost 4: sushy checks the hash on every request; the default cost is 250 ms each.
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (workdir / "htpasswd").write_text(f"{user}:{digest}\n")
        config.append(f"SUSHY_EMULATOR_AUTH_FILE = {str(workdir / 'htpasswd')!r}")
    if tls:
        cert, key = self_signed_certificate(workdir)
        config += [
            f"SUSHY_EMULATOR_SSL_CERT = {str(cert)!r}",
            f"SUSHY_EMULATOR_SSL_KEY = {str(key)!r}",
        ]
    conf = workdir / "sushy.conf"
    conf.write_text("\n".join(config) + "\n")
    argv = [str(EMULATOR), "--config", str(conf), "-i", "127.0.0.1", "-p", str(port),
            "--libvirt-uri", libvirt_uri]  # fmt: skip
    emulator = Sushy(
        argv, f"{'https' if tls else 'http'}://127.0.0.1:{port}", workdir / "sushy.log"
    )
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"sushy-emulator exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            if httpx.get(f"{url}/redfish/v1", timeout=2, verify=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError(f"sushy-emulator did not answer {url}/redfish/v1 in {START_TIMEOUT:g} s")


def self_signed_certificate(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: ``(cert.pem, key.pem)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
