"""The conformance suite on libvirt:kvm against the test driver behind a private libvirtd:
the profiles the manifest claims are what the plugin really does."""

from pathlib import Path

import pytest

from conformance.helpers import assert_conforms
from emulators.libvirt_daemon import running_daemon

FOLDER = Path(__file__).resolve().parents[3] / "plugins" / "libvirt" / "kvm"
NOBODY = "65534"  # libvirtd refuses a client without a passwd entry (docs/actions.md)


def test_libvirt_conforms_to_core_snapshot_and_clone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTATE_PLUGIN_UID", NOBODY)
    monkeypatch.setenv("ESTATE_PLUGIN_GID", NOBODY)
    with running_daemon() as daemon:
        daemon.add_domain(1, "web")
        daemon.add_domain(2, "db", running=False)

        report = assert_conforms(FOLDER, {"endpoint": daemon.uri, "timeout": 10})

    statuses = {p: report.profile_status(p) for p in ("core", "snapshot", "clone")}
    assert statuses == {"core": "pass", "snapshot": "pass", "clone": "pass"}
