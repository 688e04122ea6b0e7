"""moto in server mode on a free loopback port: AWS's APIs for the aws:aws plugin.

The plugin runs in a child process, so moto must be a real server on a port, not
moto's in-process mock. ``moto_server()`` starts ``moto_server`` from the same
environment as this Python, waits until it answers, and stops it by its PID on exit.
Tests and ``bench/platforms/aws_aws.py`` share it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
"""Seed 000's example keys: what moto accepts while it checks no credentials."""


@dataclass
class MotoServer:
    """A running moto server: where it listens and its process."""

    url: str
    process: subprocess.Popen[bytes]
    ca_file: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def post(self, path: str, data: bytes = b"") -> bytes:
        """POST to moto's own API (``/moto-api/...``)."""
        # Not a form: moto reads the raw body, which Flask keeps only for other types.
        headers = {"Content-Type": "text/plain"}
        request = urllib.request.Request(f"{self.url}{path}", data, headers, method="POST")
        with urllib.request.urlopen(request, timeout=10, context=self._tls()) as answer:
            body: bytes = answer.read()
            return body

    def reset(self) -> None:
        """Forget every resource and stop checking credentials."""
        self.post("/moto-api/reset")
        self.post("/moto-api/reset-auth", b"inf")

    def require_credentials(self) -> None:
        """From now on moto checks every request's signature against its IAM users
        (``/moto-api/reset-auth``): unknown keys are refused as AWS refuses them."""
        self.post("/moto-api/reset-auth", b"0")

    def client(self, service: str, region: str = "us-east-1", **keys: Any) -> Any:
        """A boto3 client of this server (seed 000's keys unless others are given)."""
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=keys.get("key", ACCESS_KEY),
            aws_secret_access_key=keys.get("secret", SECRET_KEY),
            aws_session_token=keys.get("token"),
            verify=str(self.ca_file) if self.ca_file else None,
        )

    def _tls(self) -> ssl.SSLContext | None:
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))


def program() -> Path:
    """``moto_server`` of this Python's environment."""
    path = Path(sys.executable).with_name("moto_server")
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: install moto[server] (make platforms)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(
    *, log: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> Iterator[MotoServer]:
    """moto on ``127.0.0.1``: over TLS with ``cert`` and ``key`` (PEM) when given."""
    port = free_port()
    argv = [str(program()), "-H", "127.0.0.1", "-p", str(port)]
    if cert is not None and key is not None:
        argv += ["-c", str(cert), "-k", str(key)]
    scheme = "https" if cert is not None else "http"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.pop("HTTP_PROXY", None)
    env.pop("HTTPS_PROXY", None)
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: stopped whole at the end
    )
    server = MotoServer(f"{scheme}://127.0.0.1:{port}", process, cert)
    try:
        _wait_until_ready(server, log)
        yield server
    finally:
        _stop(process)
        if log is not None and not isinstance(output, int):
            output.close()


def _wait_until_ready(server: MotoServer, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"moto_server exited with {server.process.returncode}: {tail}")
        try:
            server.post("/moto-api/reset")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {server.url} in {START_TIMEOUT:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, and the key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moto on loopback")])
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "moto.crt", folder / "moto.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
