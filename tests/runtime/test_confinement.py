"""Confined plugin processes, attacked by a hostile plugin: real children, real kernel.

The plugin tries, at import (``define``) and while it collects, to read the data
directory, the service's environment, other plugins and other scratch folders, to
write outside its scratch folder and to leave a ``setsid`` daemon behind; and it runs
past each limit. Every attempt must be refused and the next ordinary call must work.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from estate.runtime.confinement import (
    NATIVE_SANDBOX,
    Confinement,
    Limits,
    landlock_abi,
    launch,
)
from estate.runtime.environments import PluginEnvironment
from estate.runtime.errors import PluginCallError, PluginExited
from estate.runtime.host import PluginProcess
from estate.runtime.plugin_users import UserRange
from factories import TEST_CLASS_PATH, is_alive, provider_plugin

pytestmark = pytest.mark.skipif(not landlock_abi(), reason="the kernel has no Landlock")

# Module level of the hostile plugin: runs at import, so during ``define`` as well.
HOSTILE = '''
import json, os, signal, sys, time

TARGETS = json.loads(os.environ.get("HOSTILE_TARGETS", "{}"))


def attempts():
    """What got through: the paths it could read or write."""
    escaped = []
    for path in TARGETS.get("read", []):
        try:
            with open(path, "rb") as file:
                file.read(1)
            escaped.append("read " + path)
        except OSError:
            pass
        try:
            os.listdir(path)
            escaped.append("list " + path)
        except OSError:
            pass
    for path in TARGETS.get("write", []):
        try:
            with open(path, "w") as file:
                file.write("pwned")
            escaped.append("write " + path)
        except OSError:
            pass
    return escaped


def daemon(marker):
    """Double fork + setsid: a daemon nothing waits for. Returns once it runs."""
    ready = os.path.join(os.environ["TMPDIR"], "daemon-" + marker)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open(ready, "w").close()
            os.execv("/bin/sleep", ["sleep", marker])
        os._exit(0)
    while not os.path.exists(ready):
        time.sleep(0.01)


ESCAPED_AT_IMPORT = attempts()
if TARGETS.get("daemon_at_import"):
    daemon(TARGETS["daemon_at_import"])
'''

METHODS = """
def validate_connection(self):
    tried = len(TARGETS["read"]) + len(TARGETS["write"])
    scratch = os.stat(os.environ["TMPDIR"])
    who = [os.getuid(), os.getgid(), os.getgroups(), scratch.st_uid, oct(scratch.st_mode & 0o777)]
    return True, json.dumps(
        {"import": ESCAPED_AT_IMPORT, "now": attempts(), "tried": tried, "who": who}
    )

def collect(self):
    what = self.credential.extra.get("do")
    if what == "daemon":
        daemon(self.credential.extra["marker"])
    elif what == "memory":
        hog = bytearray(400 * 1024 * 1024)
    elif what == "cpu":
        while True:
            pass
    elif what == "file":
        with open(os.path.join(os.environ["TMPDIR"], "big"), "wb") as file:
            file.write(b"x" * 3 * 1024 * 1024)
    elif what == "fork":
        children = []
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    yield from ()
"""

PLUGIN_USERS = UserRange(base=64500, count=500, gid=64500)
SMALL = Limits(memory_mb=200, cpu_seconds=1, max_processes=12, max_file_mb=1)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory as the service keeps it, with something worth stealing."""
    data = tmp_path / "data"
    (data / "plugins" / "other" / "plugin" / "1.0.0").mkdir(parents=True)
    (data / "plugins" / "other" / "plugin" / "1.0.0" / "provider.py").write_text("TOKEN = 1\n")
    for name in ("secret.key", "estate.db", "admin_password"):
        (data / name).write_text("secret\n")
        (data / name).chmod(0o600)
    (data / "scratch" / "neighbour").mkdir(parents=True)
    (data / "scratch" / "neighbour" / "note").write_text("theirs\n")
    return data


def hostile(data: Path, **targets: Any) -> tuple[Path, dict[str, str]]:
    folder = provider_plugin(data / "plugins" / "hostile" / "plugin", METHODS, header=HOSTILE)
    plugin_dir = str(folder)
    targets.setdefault(
        "read",
        [
            str(data / "secret.key"),
            str(data / "estate.db"),
            str(data / "admin_password"),
            str(data),
            str(data / "plugins" / "other" / "plugin" / "1.0.0" / "provider.py"),
            str(data / "scratch" / "neighbour" / "note"),
            f"/proc/{os.getpid()}/environ",
            f"/proc/{os.getpid()}/cmdline",
        ],
    )
    targets.setdefault(
        "write",
        [str(data / "pwned"), f"{plugin_dir}/pwned", "/tmp/estate-pwned", "/dev/shm/pwned"],
    )
    return folder, {"HOSTILE_TARGETS": json.dumps(targets)}


@pytest.fixture(params=["plugin users", "root without capabilities"])
def users(request: pytest.FixtureRequest) -> UserRange | None:
    """Who plugin processes run as (as root): each a user of its own, or root without
    a single capability; Landlock and the PID namespace confine both."""
    return PLUGIN_USERS if request.param == "plugin users" else None


@pytest.fixture(params=["native", "python"])
def launcher(request: pytest.FixtureRequest) -> str:
    """Which launcher confines the plugin: ``estate-sandbox`` (sandbox.c, built by
    ``make setup``) or ``sandbox.py``; both must hold against the hostile plugin."""
    assert NATIVE_SANDBOX.is_file() or request.param == "python", "run make setup"
    return str(request.param)


def environment(
    folder: Path,
    data: Path,
    limits: Limits = Limits(),
    users: UserRange | None = None,
    launcher: str = "native",
) -> PluginEnvironment:
    confinement = Confinement(
        limits=limits,
        scratch_root=data / "scratch",
        protected=(data,),
        users=users,
        launcher=launcher,
    )
    return PluginEnvironment(plugin_dir=folder, confinement=confinement)


def started(
    folder: Path,
    data: Path,
    env: dict[str, str],
    users: UserRange | None,
    launcher: str = "native",
    **limits: Any,
) -> PluginProcess:
    for name, value in env.items():
        os.environ[name] = value
    try:
        confinement = environment(folder, data, Limits(**limits), users, launcher)
        process = PluginProcess(confinement, TEST_CLASS_PATH)
        process.start()
    finally:
        for name in env:
            os.environ.pop(name, None)
    return process


def collect(process: PluginProcess, **extra: Any) -> Any:
    credential = {"hostname": "h", "extra": extra}
    process.call("configure", {"provider": {"id": 1}, "credential": credential})
    return process.call("collect", {"batch_size": 10})


def in_namespace(namespace: str) -> list[int]:
    """The processes of the PID namespace ``namespace`` (``pid:[inode]``) still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str((entry / "ns" / "pid").readlink()) == namespace:
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return [pid for pid in found if is_alive(pid)]


def sleepers(marker: str) -> list[int]:
    """Processes running ``sleep <marker>``: the hostile plugin's daemons."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == (
                b"sleep\0" + marker.encode() + b"\0"
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if is_alive(pid)]


def test_a_hostile_plugin_reaches_nothing_at_import_nor_while_it_runs(
    data: Path, users: UserRange | None, launcher: str
) -> None:
    folder, env = hostile(data)
    process = started(folder, data, env, users, launcher)
    try:
        process.call("configure", {"provider": {"id": 1}, "credential": {"hostname": "h"}})
        answer = json.loads(process.call("validate", {})["message"])
        scratch = process._launch.scratch  # type: ignore[union-attr]
        assert scratch.parent == data / "scratch" and scratch.is_dir()
    finally:
        process.stop()

    who = answer.pop("who")
    assert answer == {"import": [], "now": [], "tried": 12}
    if users is None:
        assert who == [0, 0, [], 0, "0o700"]
    else:
        uid = who[0]
        assert users.base <= uid < users.base + users.count
        assert who == [uid, users.gid, [], uid, "0o700"], "its own user, owning its scratch"
    assert not (data / "pwned").exists() and not Path("/tmp/estate-pwned").exists()
    assert not scratch.exists(), "the scratch folder goes with its process"


def test_define_is_confined_and_its_daemon_dies_with_it(
    data: Path, users: UserRange | None, launcher: str
) -> None:
    marker = "7391.5"
    targets = {"daemon_at_import": marker}
    folder, env = hostile(data, **targets)
    with launch(environment(folder, data, users=users, launcher=launcher), "define") as how:
        done = subprocess.run(
            how.argv,
            capture_output=True,
            text=True,
            env={**how.env, **env},
            cwd=how.cwd,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["ok"]
    time.sleep(0.2)
    assert sleepers(marker) == [], "a daemon started at import outlived define"


def test_a_setsid_daemon_dies_with_its_job_and_the_next_call_works(
    data: Path, users: UserRange | None, launcher: str
) -> None:
    marker = "7392.5"
    folder, env = hostile(data)
    process = started(folder, data, env, users, launcher)
    try:
        namespace = str(Path(f"/proc/{process.pid}/ns/pid_for_children").readlink())
        collect(process, do="daemon", marker=marker)
        [daemon] = sleepers(marker)
        assert is_alive(daemon)
        assert daemon in in_namespace(namespace)
    finally:
        process.stop()
    deadline = time.monotonic() + 5
    while is_alive(daemon) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_alive(daemon), "the daemon outlived its job"
    assert sleepers(marker) == []
    deadline = time.monotonic() + 5
    while in_namespace(namespace) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_namespace(namespace) == [], "nothing of the job's PID namespace is left"

    process = started(folder, data, env, users, launcher)
    try:
        assert collect(process) is not None
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("what", "limits", "named", "error"),
    [
        ("memory", {"memory_mb": 200}, "ESTATE_PLUGIN_MEMORY_MB=200", PluginCallError),
        ("cpu", {"cpu_seconds": 1}, "ESTATE_PLUGIN_CPU_SECONDS=1", PluginExited),
        ("file", {"max_file_mb": 1}, "ESTATE_PLUGIN_MAX_FILE_MB=1", PluginCallError),
        ("fork", {"max_processes": 12}, "ESTATE_PLUGIN_MAX_PROCESSES=12", PluginCallError),
    ],
)
def test_a_plugin_past_a_limit_fails_with_a_message_naming_it(
    data: Path,
    users: UserRange | None,
    launcher: str,
    what: str,
    limits: dict[str, int],
    named: str,
    error: type[Exception],
) -> None:
    folder, env = hostile(data)
    process = started(folder, data, env, users, launcher, **limits)
    try:
        with pytest.raises(error) as caught:
            collect(process, do=what)
    finally:
        process.stop()
    assert named in str(caught.value)

    process = started(folder, data, env, users, launcher, **limits)  # the next job is unaffected
    try:
        collect(process)
    finally:
        process.stop()


def test_concurrent_plugin_processes_are_distinct_users_given_back_when_done(data: Path) -> None:
    folder, env = hostile(data, read=[], write=[])
    processes = [started(folder, data, env, PLUGIN_USERS) for _ in range(3)]
    try:
        uids = []
        for process in processes:
            process.call("configure", {"provider": {"id": 1}, "credential": {"hostname": "h"}})
            uids.append(json.loads(process.call("validate", {})["message"])["who"][0])
    finally:
        for process in processes:
            process.stop()

    assert len(set(uids)) == 3, uids
    again = started(folder, data, env, PLUGIN_USERS)  # a returned user comes back last
    try:
        again.call("configure", {"provider": {"id": 1}, "credential": {"hostname": "h"}})
        uid = json.loads(again.call("validate", {})["message"])["who"][0]
    finally:
        again.stop()
    assert uid not in uids
