"""CI's conformance runs: every built-in plugin against its emulator, each claimed
profile checked for real; a regression in any plugin's actions fails here naming the
check. (libvirt:kvm's run is in tests/platforms/libvirt, beside its private libvirtd;
aws:aws's in tests/platforms/aws, beside moto; the simulated datacenter's in
test_runner.py.)"""

from __future__ import annotations

from pathlib import Path

from conformance.helpers import assert_conforms
from emulators.fakepve import guests, running_fakepve
from emulators.ipmi_sim import running_bmc
from emulators.sushy import sushy_emulator
from emulators.vcsim import Size, by_name, vcsim, wait
from estate.conformance import SuiteReport

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _statuses(report: SuiteReport) -> dict[str, str]:
    return {p: report.profile_status(p) for p in ["base", *report.profiles]}


def test_vcenter_conforms_to_core_snapshot_and_clone() -> None:
    from pyVmomi import vim

    with vcsim(Size(), username="administrator@vsphere.local", password="vc-conform-pw") as sim:
        with sim.session() as instance:  # a template, for clone.instance_create
            template = by_name(instance, vim.VirtualMachine)["DC0_C0_RP0_VM1"]
            wait(template.PowerOffVM_Task())
            template.MarkAsTemplate()
        config = {"endpoint": "127.0.0.1", **sim.connection_config()}

        report = assert_conforms(PLUGINS / "vmware" / "vcenter", config)

    assert report.profiles == ["core", "snapshot", "clone"]
    assert set(_statuses(report).values()) == {"pass"}, _statuses(report)


def test_proxmox_conforms_to_core_snapshot_and_clone(tmp_path: Path) -> None:
    template = {
        "vmid": 9000, "node": "pve1", "name": "tpl-web", "status": "stopped", "template": True,
        "config": {"description": "chatsubo.template=web-easy", "memory": 1024, "cores": 1,
                   "scsi0": "local-lvm:base-9000-disk-0,size=8G"},
    }  # fmt: skip
    with running_fakepve(tmp_path / "pve", [*guests(4), template]) as pve:
        config = {
            "endpoint": pve.host,
            "username": pve.user,
            "password": pve.password,
            "port": pve.port,
            "verify_ssl": False,
        }

        report = assert_conforms(PLUGINS / "proxmox" / "pve", config)

    assert report.profiles == ["core", "snapshot", "clone"]
    assert set(_statuses(report).values()) == {"pass"}, _statuses(report)


def test_ipmi_conforms_to_core(tmp_path: Path) -> None:
    with running_bmc(tmp_path / "bmc") as bmc:
        config = {
            "endpoint": bmc.host,
            "username": bmc.username,
            "password": bmc.password,
            "port": bmc.port,
        }

        report = assert_conforms(PLUGINS / "ipmi" / "bmc", config)

    assert report.profile_status("core") == "pass", _statuses(report)
    assert report.profile_status("base") == "pass", _statuses(report)


def test_redfish_conforms_to_core(tmp_path: Path) -> None:
    user, password = "redfish-conform", "Bmc-conform-pass"
    with sushy_emulator("test:///default", tmp_path / "sushy", auth=(user, password)) as bmc:
        config = {"endpoint": bmc.url, "username": user, "password": password, "verify_ssl": False}

        report = assert_conforms(PLUGINS / "redfish" / "bmc", config)

    assert report.profile_status("core") == "pass", _statuses(report)
    assert report.profile_status("base") == "pass", _statuses(report)


def test_the_nodejs_example_passes_the_base_checks() -> None:
    report = assert_conforms(PLUGINS / "example" / "nodejs", {"hosts": 1, "vms_per_host": 2})

    assert report.profiles == []
    # It has no secret to get wrong or to look for, and no action: those checks skip.
    skipped = {c.name for c in report.checks if c.status == "skip"}
    assert skipped == {
        "base.validate.bad_credentials",
        "base.action.unknown_ems_ref_not_found",
        "base.secrets.absent",
    }
    assert report.profile_status("base") == "partial"
