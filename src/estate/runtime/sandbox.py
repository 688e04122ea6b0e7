"""The launcher put in front of every plugin program: confine this process, then exec it.

Run as a script, never imported by the service: ``python -I -S sandbox.py KEY=VALUE... --
PROGRAM ARGS...`` (a few C modules of the standard library, no ``site``, no ``json``
nor ``signal``: it starts in a few ms). The ``KEY=VALUE`` arguments are the policy
``estate.runtime.confinement`` writes (``read=``, ``write=`` repeated). In order:

1. ``unshare(CLONE_NEWPID)`` (with ``CLONE_NEWUSER`` when not root) and fork a tiny
   init: the plugin's children are created in the new PID namespace, the init reaps
   them, and it is killed (``PR_SET_PDEATHSIG``) when the plugin exits, which makes
   the kernel kill everything left in the namespace, ``setsid`` daemons included;
2. resource limits: memory (``RLIMIT_DATA``), CPU seconds, file size, processes, no core;
3. as root: switch to the plugin user, or stay uid 0 with every capability dropped;
4. ``PR_SET_NO_NEW_PRIVS`` and a Landlock ruleset: read and execute below the
   ``read`` paths, everything below the ``write`` paths, nothing elsewhere; no signals
   to, nor abstract sockets of, processes outside the sandbox (Landlock ABI 6);
5. ``exec`` the plugin program.

Any failure exits 126 with one line on stderr starting ``estate sandbox:``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

# Not ``from typing import ...``: importing typing costs ~15 ms, half of what confinement
# adds to a plugin's start. mypy reads any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXIT_FAILED = 126
SIGKILL, SIGSTOP, SIG_DFL = 9, 19, 0  # not ``signal``: importing it (enum) costs ~5 ms
S_IFMT, S_IFDIR = 0o170000, 0o040000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAPABILITY_VERSION_3 = 0x20080522
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
# Filesystem access rights, by the Landlock ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    """A confinement step failed: the plugin must not run."""


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise Refused(f"{what}: {os.strerror(errno)} (errno {errno})")
    return result


def _prctl(option: int, arg: int, what: str) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


# -- 1. nothing outlives the plugin ----------------------------------------------------


def enter_pid_namespace() -> int:
    """Fork the init of a new PID namespace; returns its pid (in the parent only).

    The caller stays outside (a process whose children live in another PID namespace
    cannot create threads) and relays the plugin's exit status.
    """
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWPID if uid == 0 else CLONE_NEWPID | CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare(CLONE_NEWPID)")
    if uid != 0:  # an unprivileged user namespace maps only ourselves
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    return os.fork()


def join_cgroup(path: str) -> None:
    """Enter the job's pids cgroup (its ``pids.max`` set by the host) with every child to come."""
    fd = os.open(f"{path}/cgroup.procs", os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)


def relay(init: int) -> None:
    """Outside the namespace: wait for its init and end as the plugin ended."""
    _detach()
    _, status = os.waitpid(init, 0)
    code = os.waitstatus_to_exitcode(status)
    if code > 128:  # the plugin died of a signal: die of it too, so the host sees it
        sig = code - 128
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (SIGKILL, SIGSTOP):
            libc.signal(sig, SIG_DFL)  # Python ignores SIGXFSZ and SIGPIPE
        os.kill(os.getpid(), sig)
    os._exit(code)  # a signal that does not kill: end as the shell would say it


def init(policy: dict[str, Any], argv: list[str]) -> None:
    """PID 1 of the namespace: start the plugin, reap orphans, end when the plugin ends.

    Its exit (or its death with its parent, ``PR_SET_PDEATHSIG``) makes the kernel
    kill every process left in the namespace.
    """
    code = 0
    try:
        _prctl(PR_SET_PDEATHSIG, SIGKILL, "PR_SET_PDEATHSIG")
        plugin = os.fork()
        if plugin == 0:
            start(policy, argv)
        _detach()
        if os.geteuid() == 0:
            drop_capabilities()
        code = _reap_until(plugin)
    finally:
        os._exit(code)


def _reap_until(plugin: int) -> int:
    """Reap every child (orphans come to PID 1); return the plugin's status as an exit code."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == plugin:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


def _detach() -> None:
    """Hold none of the plugin's descriptors: its socket and pipes close when it ends."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.closerange(3, 65536)


# -- 2. limits --------------------------------------------------------------------------


def set_limits(limits: dict[str, int]) -> None:
    """Soft = hard, except CPU: SIGXCPU at the soft limit names the cause, SIGKILL later."""
    memory, cpu = limits["memory_bytes"], limits["cpu_seconds"]
    for kind, soft, hard in (
        (resource.RLIMIT_DATA, memory, memory),
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, limits["file_bytes"], limits["file_bytes"]),
        (resource.RLIMIT_NPROC, limits["processes"], limits["processes"]),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(kind, (soft, hard))


# -- 3. privileges ------------------------------------------------------------------------


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """As root: become the plugin user, or keep uid 0 without a single capability."""
    if os.geteuid() != 0:
        return
    if uid is not None:
        group = gid if gid is not None else uid
        os.setgroups([])
        os.setresgid(group, group, group)
        os.setresuid(uid, uid, uid)
        return
    drop_capabilities()


def drop_capabilities() -> None:
    """Empty the bounding, ambient, inheritable, permitted and effective sets: an exec
    as root then grants nothing either."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) < 0:
            break  # past the kernel's last capability
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, "PR_CAP_AMBIENT_CLEAR_ALL")
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "capset")


# -- 4. Landlock ---------------------------------------------------------------------------


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(abi), 0)


def restrict(read: list[str], write: list[str], abi: int) -> None:
    """Allow ``read`` (read, execute) and ``write`` (everything) paths, deny the rest."""
    handled = (1 << 13) - 1
    handled |= REFER if abi >= 2 else 0
    handled |= TRUNCATE if abi >= 3 else 0
    handled |= IOCTL_DEV if abi >= 5 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = (ctypes.c_uint64 * 3)(handled, 0, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _check(
        libc.syscall(SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    for paths, rights in ((read, READ_RIGHTS), (write, handled)):
        for path in paths:
            _allow(ruleset, path, rights & handled)
    _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
    _check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # e.g. /lib32 on this system: nothing to allow
    try:
        if os.fstat(fd).st_mode & S_IFMT != S_IFDIR:
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _check(
            libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0),
            f"landlock_add_rule {path}",
        )  # fmt: skip
    finally:
        os.close(fd)


# -- the whole ----------------------------------------------------------------------------


def confine(policy: dict[str, Any]) -> None:
    """Limits, privileges and Landlock for this process (the plugin, before its exec)."""
    set_limits(policy["limits"])
    drop_privileges(policy.get("uid"), policy.get("gid"))
    abi = landlock_abi()
    if abi:
        restrict(policy["read"], policy["write"], abi)
    else:
        _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")


def start(policy: dict[str, Any], argv: list[str]) -> None:
    """Confine this process and exec the plugin; exit 126 naming what failed."""
    try:
        confine(policy)
        os.execv(argv[0], argv)
    except (Refused, OSError, ValueError, KeyError) as exc:
        _refuse(str(exc))


def _refuse(reason: str) -> None:
    sys.stderr.write(f"estate sandbox: {reason}\n")
    sys.stderr.flush()
    os._exit(EXIT_FAILED)


def parse(arguments: list[str]) -> dict[str, Any]:
    """The policy from ``KEY=VALUE`` arguments."""
    policy: dict[str, Any] = {"read": [], "write": [], "uid": None, "gid": None}
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key in ("read", "write"):
            policy[key].append(value)
        elif key in ("uid", "gid"):
            policy[key] = int(value)
        elif key == "limits":
            memory, cpu, file, processes = (int(part) for part in value.split(","))
            policy[key] = {"memory_bytes": memory, "cpu_seconds": cpu, "file_bytes": file,
                           "processes": processes}  # fmt: skip
        elif key == "landlock":
            policy["require_landlock"] = value == "required"
        elif key == "pids_cgroup":
            policy[key] = value
        else:
            raise ValueError(f"unknown policy argument {argument!r}")
    return policy


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        _refuse("usage: sandbox.py KEY=VALUE... -- PROGRAM [ARGS...]")
    split = argv.index("--")
    try:
        policy = parse(argv[1:split])
        if not landlock_abi() and policy["require_landlock"]:
            _refuse(
                "Landlock is not available on this kernel, so the plugin cannot be confined; "
                "enable it (CONFIG_SECURITY_LANDLOCK, lsm=landlock) or set "
                "ESTATE_PLUGIN_REQUIRE_LANDLOCK=false to run plugins without it"
            )
        if policy.get("pids_cgroup"):
            join_cgroup(policy["pids_cgroup"])
        child = enter_pid_namespace()
    except (Refused, OSError, ValueError, KeyError) as exc:
        _refuse(str(exc))
    if child == 0:
        init(policy, argv[split + 1 :])
    relay(child)


if __name__ == "__main__":
    main(sys.argv)
