"""ipmi_sim (Debian's openipmi), one BMC per process, on a loopback UDP port.

Each BMC gets a folder with what ipmi_sim needs (``ipmi_sim -c lan.conf -f bmc.emu -s
state -n``): a LAN channel on 127.0.0.1 whose port the kernel picks (``addr 127.0.0.1
0``; read back from ``/proc``), an admin user, a system GUID, and a command file that
makes MC 0x20 the BMC with a FRU (32 bytes: pyghmi reads no larger FRU from
ipmi_sim), two sensors with their SDRs, and a chassis whose power and boot device a
small shell script keeps in files (``chassis_control``: ipmi_sim asks it ``get power
boot`` and tells it ``set power 0``; it records every such request). The chassis starts
powered on; its OS powers it off on a soft shutdown request (ACPI), unless told to
ignore those.

Clients reach it through ``udp_latency`` (1 ms each way, a LAN's delay; see there why
pyghmi needs it): ``Bmc.port`` is the relay's, ``Bmc.sim_port`` ipmi_sim's own.

    with running_bmc(tmp_path) as bmc:
        bmc.ipmitool("chassis", "power", "off")
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from emulators.udp_latency import UdpLatency

USERNAME = "admin"
PASSWORD = "bmc-secret"
START_TIMEOUT = 10.0
LAN_LATENCY = 0.001
# An ASF presence ping (RMCP class 6): every IPMI LAN BMC answers it with a pong.
PRESENCE_PING = bytes.fromhex("0600ff06000011be80000000")

LAN_CONF = """\
name "{name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 0
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid {guid}
  endlan
  chassis_control "{script} {workdir}"
  user 2 true "{username}" "{password}" admin 10 none md2 md5 straight
"""

# ipmi_sim runs: SCRIPT DIR get NAME..., or SCRIPT DIR set NAME VALUE...
CHASSIS_SCRIPT = """\
#!/bin/sh
dir="$1"; op="$2"; shift 2
if [ "$op" = get ]; then
  for name in "$@"; do
    case "$name" in
      power) echo "power:$(cat "$dir/power")" ;;
      boot)
        # A test's fault: the BMC freezes (stops answering) when asked its boot device.
        if [ -f "$dir/freeze" ]; then kill -STOP "$(cat "$dir/freeze")"; fi
        echo "boot:$(cat "$dir/boot")" ;;
    esac
  done
elif [ "$op" = set ]; then
  while [ $# -ge 2 ]; do
    printf '%s %s\\n' "$1" "$2" >> "$dir/requests"
    case "$1" in
      power|boot) printf '%s\\n' "$2" > "$dir/$1" ;;
      # The server's OS heeds the soft shutdown (ACPI) request, unless a test made it deaf.
      shutdown) [ -f "$dir/ignore-acpi" ] || printf '0\\n' > "$dir/power" ;;
    esac
    shift 2
  done
fi
"""


@dataclass(frozen=True, slots=True)
class Bmc:
    """A running ipmi_sim: where it listens, its process and folder, its login."""

    host: str
    port: int
    sim_port: int
    pid: int
    workdir: Path
    serial: str
    guid: str
    username: str = USERNAME
    password: str = PASSWORD

    def ipmitool(self, *args: str) -> str:
        """Run ``ipmitool`` against this BMC (lanplus, cipher suite 3, as ipmi_sim needs)."""
        command = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", self.host, "-p", str(self.sim_port),
                   "-U", self.username, "-E", *args]  # fmt: skip
        env = {**os.environ, "IPMI_PASSWORD": self.password}  # not on the command line
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise RuntimeError(f"ipmitool {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def freeze_when_asked_the_boot_device(self) -> None:
        """Make ipmi_sim stop (SIGSTOP, from its chassis script) at the next boot device
        query: a BMC that hangs in the middle of a collection. Stopping it ends that."""
        (self.workdir / "freeze").write_text(f"{self.pid}\n")

    @property
    def power(self) -> str:
        """``"1"`` or ``"0"``: what the chassis script holds."""
        return (self.workdir / "power").read_text().strip()

    @property
    def boot(self) -> str:
        """The boot device ipmi_sim last set, in its words (``none``, ``pxe``, ``default``
        for the disk, ``cdrom``, ``bios``): it keeps no valid or persistent flag."""
        return (self.workdir / "boot").read_text().strip()

    @property
    def requests(self) -> list[str]:
        """Every change ipmi_sim asked of the chassis, in order (``power 0``, ``reset 1``,
        ``shutdown 1``, ``boot pxe``)."""
        path = self.workdir / "requests"
        return path.read_text().splitlines() if path.exists() else []

    def ignore_soft_shutdown(self) -> None:
        """Make the server's OS ignore soft shutdown (ACPI) requests from now on."""
        (self.workdir / "ignore-acpi").touch()


def fru_data(manufacturer: str, product: str, serial: str) -> bytes:
    """A 32-byte FRU: the common header and a product info area of three fields."""
    fields = [manufacturer, product, "", "", serial, "", ""]
    area = bytearray([0x01, 3, 0x00])  # version, length in 8-byte units, English
    for text in fields:
        encoded = text.encode("ascii")
        area += bytes([0xC0 | len(encoded)]) + encoded
    area += b"\xc1"  # no more fields
    if len(area) > 23:
        raise ValueError("manufacturer, product and serial must fit 12 characters together")
    area += bytes(23 - len(area))
    area.append(-sum(area) & 0xFF)
    header = bytearray([0x01, 0, 0, 0, 1, 0, 0])  # the product area starts at offset 8
    header.append(-sum(header) & 0xFF)
    return bytes(header + area)


def full_sensor_sdr(number: int, name: str, sensor_type: int, unit: int, multiplier: int) -> bytes:
    """A Full Sensor Record (SDR type 01h) of a linear threshold sensor on MC 0x20."""
    label = name.encode("ascii")
    body = bytes([
        0x20, 0x00, number,               # owner, LUN, sensor number
        0x07, 0x01,                       # entity: system board 1
        0x7F, 0x68, sensor_type, 0x01,    # initialisation, capabilities, type, threshold
        0, 0, 0, 0, 0, 0,                 # event and reading masks
        0x00, unit, 0x00, 0x00,           # unsigned; base unit; no modifier; linear
        multiplier, 0, 0, 0, 0, 0, 0,     # M, tolerance, B, accuracy, exponents, analog flags
        0x00, 0x00, 0x00, 0xFF, 0x00,     # nominal, normal max and min, range
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  # thresholds, hysteresis, reserved, OEM
        0xC0 | len(label),
    ]) + label  # fmt: skip
    return bytes([0x00, 0x00, 0x51, 0x01, len(body)]) + body


def emulator_commands(serial: str) -> str:
    """The command file: MC 0x20 as the BMC (firmware 9.08, MontaVista's ids), its FRU,
    a CPU temperature of 45 °C and a fan at 3,200 RPM."""
    temp = full_sensor_sdr(1, "CPU Temp", 0x01, 0x01, 1)
    fan = full_sensor_sdr(2, "Fan 1", 0x04, 0x12, 50)
    fru = fru_data("Acme", "S1", serial)
    return "\n".join([
        "mc_setbmc 0x20",
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02",
        "sel_enable 0x20 1000 0x0a",
        f"mc_add_fru_data 0x20 0 {len(fru)} data {_hex(fru)}",
        f"main_sdr_add 0x20 {_hex(temp)}",
        f"main_sdr_add 0x20 {_hex(fan)}",
        "sensor_add 0x20 0 1 0x01 0x01",
        "sensor_set_value 0x20 0 1 45 0",
        "sensor_add 0x20 0 2 0x04 0x01",
        "sensor_set_value 0x20 0 2 64 0",
        "mc_enable 0x20",
        "",
    ])  # fmt: skip


def _hex(data: bytes) -> str:
    return " ".join(f"0x{byte:02x}" for byte in data)


@contextmanager
def running_bmc(
    workdir: Path, *, number: int = 1, powered_on: bool = True, latency: float = LAN_LATENCY
) -> Iterator[Bmc]:
    """Start one ipmi_sim in ``workdir`` behind a ``latency`` relay; stop both on leaving."""
    if shutil.which("ipmi_sim") is None:
        raise RuntimeError("ipmi_sim is not installed: apt install openipmi ipmitool")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "state").mkdir(exist_ok=True)
    serial, guid = f"SN{number:04d}", f"a1234567-89ab-cdef-a123-{number:012x}".replace("-", "")
    script = workdir / "chassis.sh"
    script.write_text(CHASSIS_SCRIPT)
    script.chmod(0o755)
    (workdir / "power").write_text("1\n" if powered_on else "0\n")
    (workdir / "boot").write_text("default\n")
    (workdir / "lan.conf").write_text(LAN_CONF.format(
        name=f"bmc{number}", guid=guid, script=script, workdir=workdir,
        username=USERNAME, password=PASSWORD,
    ))  # fmt: skip
    (workdir / "bmc.emu").write_text(emulator_commands(serial))
    log_path = workdir / "ipmi_sim.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["ipmi_sim", "-c", "lan.conf", "-f", "bmc.emu", "-s", str(workdir / "state"), "-n"],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        port = _wait_ready(process, log_path)
        with UdpLatency(("127.0.0.1", port), latency) as relay:
            yield Bmc("127.0.0.1", relay.port, port, process.pid, workdir, serial, _uuid_text(guid))
    finally:
        _stop(process)


@contextmanager
def running_bmcs(workdir: Path, count: int) -> Iterator[list[Bmc]]:
    """``count`` BMCs, one ipmi_sim each (``bmc-01``, ``bmc-02``, … in ``workdir``)."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(running_bmc(workdir / f"bmc-{n:02d}", number=n))
            for n in range(1, count + 1)
        ]


def _uuid_text(guid: str) -> str:
    """The GUID as SMBIOS and pyghmi show it (its first three groups byte-swapped)."""
    import uuid

    return str(uuid.UUID(bytes_le=bytes.fromhex(guid)))


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        port = udp_port_of(process.pid)
        if port is not None and _answers_ping(port):
            return port
        time.sleep(0.02)
    _stop(process)
    raise RuntimeError(f"ipmi_sim did not start: {log_path.read_text(errors='replace')[-2000:]}")


def udp_port_of(pid: int) -> int | None:
    """The local port of the UDP socket process ``pid`` holds on 127.0.0.1, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes and fields[1].startswith("0100007F:"):
            return int(fields[1].split(":")[1], 16)
    return None


def _answers_ping(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(PRESENCE_PING, ("127.0.0.1", port))
        try:
            answer = probe.recv(64)
        except OSError:
            return False
    return len(answer) > 8 and answer[8] == 0x40  # presence pong


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a frozen BMC must hear the SIGTERM
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
