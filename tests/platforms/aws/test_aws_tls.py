"""aws:aws over TLS: a certificate nobody vouches for is refused with what to do, and
trusted through ``AWS_CA_BUNDLE`` in the environment (or ``verify_ssl: false``); an
HTTPS proxy named by ``HTTPS_PROXY`` carries the traffic.

moto is reached over HTTPS through a TLS front (tests/emulators/faults.py) with a
certificate made for the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.faults import fault_proxy
from emulators.moto import MotoServer, self_signed
from inventory_providers.errors import Unreachable
from platforms.aws import plugin
from platforms.aws.estate import small


@pytest.fixture
def front(aws: MotoServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """moto over HTTPS: its URL and the certificate it shows."""
    cert, key = self_signed(tmp_path)
    with fault_proxy(upstream=aws.url, tls=(cert, key)) as proxy:
        yield proxy.url, cert


@pytest.fixture
def tls(front: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """moto over HTTPS as the environment's endpoint, no CA bundle trusted; the certificate."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", front[0])
    return front[1]


def test_an_untrusted_certificate_is_refused_with_what_to_do(tls: Path) -> None:
    with pytest.raises(Unreachable) as raised:
        plugin.make(timeout=5).connect()

    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert "set AWS_CA_BUNDLE in the service's environment" in str(raised.value)


def test_the_ca_bundle_of_the_environment_is_trusted(
    aws: MotoServer, tls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, _ = small(aws)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls))

    found = plugin.collect(plugin.make(services=["ec2"]))

    assert [r.ems_ref for r in found] == [instance]


def test_verify_ssl_false_skips_the_check(tls: Path) -> None:
    ok, message = plugin.make(verify_ssl=False).validate_connection()

    assert ok, message


def test_https_goes_through_the_proxy_of_the_environment(
    aws: MotoServer, tls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, _ = small(aws)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls))
    with fault_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        found = plugin.collect(plugin.make(services=["ec2"]))

    assert [r.ems_ref for r in found] == [instance]
    assert [s.action for s in proxy.seen] and {s.action for s in proxy.seen} == {"CONNECT"}
