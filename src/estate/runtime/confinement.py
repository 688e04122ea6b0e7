"""Confinement of plugin processes: how every one is launched, and what its failures mean.

Every plugin process the service starts — ``define`` at upload, collections, the
supervisor's long-lived processes — gets its command line from :func:`launch`: the
plugin's own program behind ``estate-sandbox POLICY --`` (``sandbox.c``, built by ``make
setup``; ``python -I -S sandbox.py`` where it is not built; see ``sandbox.py``:
a PID namespace that dies with the plugin, resource limits, no capabilities or a
plugin user, Landlock), a private scratch folder as ``TMPDIR`` and ``HOME``, removed
when the process is done, and the plugin folder as its working directory.

The policy names what the plugin may read: the system's folders, its own folder, the
environment that runs it (the venv, the interpreter's prefix, the SDK's source folder)
and ``settings.plugin_readable``; it may write only its scratch folder. The data
directory (database, ``secret.key``, ``admin_password``, other plugins, other scratch
folders) and ``/proc`` are not on the list. :func:`explain` turns an exit caused by a
limit into a message naming the setting.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import inventory_providers
from inventory_providers.provider import STATE_DIR_VARIABLE

from ..config import Settings
from . import sandbox
from .errors import PluginStartError
from .integrity import verify
from .plugin_users import UserPool, UserRange, grant_search, pool_of

if TYPE_CHECKING:
    from .environments import PluginEnvironment

logger = logging.getLogger(__name__)

SANDBOX = Path(__file__).with_name("sandbox.py")
NATIVE_SANDBOX = Path(sys.prefix) / "bin" / "estate-sandbox"
"""``sandbox.c`` built by ``make setup``: the same launcher without an interpreter's start."""
SANDBOX_REFUSED = sandbox.EXIT_FAILED
SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc")
DEVICES = ("/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
WRITABLE_DEVICES = ("/dev/null",)
MIB = 1024 * 1024
PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
"""cgroup v1's pids controller: the process limit of a job that runs as root, where
RLIMIT_NPROC is not enforced."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-process limits (the process count is per job)."""

    memory_mb: int = 2048
    cpu_seconds: int = 3600
    max_processes: int = 64
    max_file_mb: int = 1024


@dataclass(frozen=True, slots=True)
class Confinement:
    """How plugin processes are confined; :func:`confinement_of` builds it from settings.

    ``protected`` folders are never made readable, nor any folder holding one (the data
    directory: a plugin's own folder inside it stays readable).
    """

    enabled: bool = True
    require_landlock: bool = True
    limits: Limits = Limits()
    uid: int | None = None
    gid: int | None = None
    users: UserRange | None = None
    launcher: str = "auto"
    readable: tuple[Path, ...] = ()
    scratch_root: Path | None = None
    protected: tuple[Path, ...] = field(default=())


DEFAULT = Confinement()
"""Confined with the default limits: what a ``PluginEnvironment`` made without settings gets."""


def confinement_of(settings: Settings) -> Confinement:
    """The confinement the settings ask for."""
    return Confinement(
        enabled=settings.confine,
        require_landlock=settings.plugin_require_landlock,
        limits=Limits(
            memory_mb=settings.plugin_memory_mb,
            cpu_seconds=settings.plugin_cpu_seconds,
            max_processes=settings.plugin_max_processes,
            max_file_mb=settings.plugin_max_file_mb,
        ),
        uid=settings.plugin_uid,
        gid=settings.plugin_gid,
        users=UserRange(
            base=settings.plugin_uid_base,
            count=settings.plugin_uid_count,
            gid=settings.plugin_gid or settings.plugin_uid_base,
        )
        if settings.plugin_users
        else None,
        launcher=settings.plugin_launcher,
        readable=tuple(path.expanduser().resolve() for path in settings.plugin_readable),
        scratch_root=settings.resolved_scratch_dir,
        protected=(settings.resolved_data_dir,),
    )


@dataclass
class Launch:
    """One plugin process's command line, environment and scratch folder.

    ``close`` removes the scratch folder; use it as a context manager or call ``close``
    once the process has ended.
    """

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    scratch: Path
    confinement: Confinement

    cgroup: Path | None = None
    pool: UserPool | None = None
    uid: int | None = None

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
        if self.pool is not None and self.uid is not None:
            self.pool.give_back(self.uid)
            self.pool = None

    def limit_note(self, returncode: int | None, text: str = "") -> str:
        """``explain`` for this process: ``"; <why>"`` or ``""``."""
        if not self.confinement.enabled:
            return ""
        reason = explain(returncode, text, self.confinement.limits)
        return f"; {reason}" if reason else ""

    def __enter__(self) -> Launch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def launch(environment: PluginEnvironment, *verb: str) -> Launch:
    """How to start ``environment``'s plugin with ``verb``: the one place a plugin's
    command line is built. Raises ``PluginStartError`` for a missing program,
    ``PluginModified`` naming a file changed since the version's file list was made."""
    if environment.files is not None:
        verify(environment.plugin_dir, dict(environment.files))
    plugin_argv = environment.argv(*verb)
    if not os.access(plugin_argv[0], os.X_OK):  # said here: inside the sandbox it is a line
        reason = "not executable" if Path(plugin_argv[0]).exists() else "no such file"
        raise PluginStartError(f"cannot start plugin process {plugin_argv[0]!r}: {reason}")
    confinement = environment.confinement
    pool, uid, gid = _user(confinement)
    try:
        scratch = _scratch(confinement, uid, gid)
    except BaseException:
        if pool is not None and uid is not None:
            pool.give_back(uid)
        raise
    started = Launch(plugin_argv, {}, environment.plugin_dir, scratch, confinement, None, pool, uid)
    try:
        started.env = environment.env()
        started.env.update(
            TMPDIR=str(scratch), TMP=str(scratch), TEMP=str(scratch), HOME=str(scratch)
        )
        writable = [scratch]
        if environment.state_dir is not None:
            writable.append(_state_folder(environment.state_dir, gid))
            started.env[STATE_DIR_VARIABLE] = str(environment.state_dir)
        if confinement.enabled:
            if uid is None:  # the plugin's own user counts its processes where there is one
                started.cgroup = _pids_cgroup(confinement, scratch.name)
            readable = readable_paths(environment, plugin_argv[0])
            if uid is not None and gid is not None:
                _reachable(gid, [*readable, *(str(path) for path in writable)])
            policy = _policy(confinement, readable, writable, started.cgroup, uid, gid)
            started.argv = [*launcher_argv(confinement.launcher), *policy, "--", *plugin_argv]
        else:
            _warn_unconfined()
    except BaseException:
        started.close()
        raise
    if confinement.enabled and not confinement.require_landlock and not landlock_abi():
        _warn_no_landlock()
    return started


def launcher_argv(launcher: str) -> list[str]:
    """The launcher's command: ``native`` (``sandbox.c``, built by ``make setup``),
    ``python`` (``sandbox.py``), or ``auto``: the native one when it is built."""
    if launcher == "native" or (launcher == "auto" and os.access(NATIVE_SANDBOX, os.X_OK)):
        if not os.access(NATIVE_SANDBOX, os.X_OK):
            raise PluginStartError(
                f"the native plugin launcher {NATIVE_SANDBOX} is not built; run `make setup` "
                "(it needs cc) or set ESTATE_PLUGIN_LAUNCHER=python"
            )
        return [str(NATIVE_SANDBOX)]
    return [sys.executable, "-I", "-S", str(SANDBOX)]


def _user(confinement: Confinement) -> tuple[UserPool | None, int | None, int | None]:
    """``(pool, uid, gid)`` the plugin process runs as: a user of its own from the pool,
    the one ``plugin_uid`` names, or none (not root, or confinement off)."""
    if not confinement.enabled or os.geteuid() != 0:
        return None, None, None
    if confinement.uid is not None:
        gid = confinement.gid if confinement.gid is not None else confinement.uid
        return None, confinement.uid, gid
    if confinement.users is None:
        return None, None, None
    pool = pool_of(confinement.users)
    try:
        uid = pool.take()
    except RuntimeError as exc:
        raise PluginStartError(str(exc)) from None
    return pool, uid, confinement.users.gid


def _reachable(gid: int, paths: list[str]) -> None:
    """Let the plugin group search the folders above what the plugin must reach."""
    try:
        for folder in grant_search(paths, gid):
            logger.info("plugin group %d may now search (never list) %s", gid, folder)
    except OSError as exc:
        raise PluginStartError(
            f"cannot let plugin users reach their files ({exc}); grant the plugin group {gid} "
            "search on the folders above the Python, plugin and data folders, or set "
            "ESTATE_PLUGIN_USERS=false to run plugins as root without capabilities"
        ) from None


def explain(returncode: int | None, text: str, limits: Limits) -> str:
    """Which limit a plugin hit, from its exit status or the error it reported; or ``""``."""
    if returncode == -signal.SIGXCPU:
        return (
            f"plugin exceeded its CPU time limit (ESTATE_PLUGIN_CPU_SECONDS={limits.cpu_seconds})"
        )
    if returncode == -signal.SIGXFSZ or "[Errno 27]" in text or "File too large" in text:
        return (
            f"plugin exceeded its file size limit (ESTATE_PLUGIN_MAX_FILE_MB={limits.max_file_mb})"
        )
    if any(sign in text for sign in ("MemoryError", "[Errno 12]", "allocation failed")):
        return f"plugin exceeded its memory limit (ESTATE_PLUGIN_MEMORY_MB={limits.memory_mb})"
    if "[Errno 11] Resource temporarily unavailable" in text or "can't start new thread" in text:
        return (
            "plugin could not start another process or thread: its limit is "
            f"ESTATE_PLUGIN_MAX_PROCESSES={limits.max_processes}"
        )
    if returncode == SANDBOX_REFUSED:
        return "the sandbox refused to start the plugin (see the 'estate sandbox:' line)"
    return ""


def readable_paths(environment: PluginEnvironment, program: str) -> list[str]:
    """What the plugin may read and execute: the system, itself, what runs it."""
    confinement = environment.confinement
    paths: list[Path] = [Path(p) for p in (*SYSTEM_READABLE, *DEVICES)]
    paths.append(environment.plugin_dir.resolve())
    if environment.site_dir is not None:
        paths.append(environment.site_dir.resolve())
    if environment.command is None:
        python = Path(environment.python).absolute()  # the venv's, not its target's
        paths += [python.parent.parent, Path(os.path.realpath(python)).parent.parent]
        paths += [Path(sys.base_prefix), Path(sys.base_exec_prefix), sdk_source()]
        paths.append(Path(sys.prefix))  # the service's environment: a plugin may run in it
    elif not Path(os.path.realpath(program)).is_relative_to(environment.plugin_dir.resolve()):
        paths.append(Path(os.path.realpath(program)).parent.parent)  # e.g. /usr for node
    paths += confinement.readable
    return [str(path) for path in _allowed(paths, confinement.protected)]


def _allowed(paths: Iterable[Path], protected: tuple[Path, ...]) -> list[Path]:
    """Unique, never ``/`` nor a folder holding a protected one."""
    out: list[Path] = []
    for path in paths:
        if path in out or len(path.parts) <= 1:
            continue
        if any(guarded == path or guarded.is_relative_to(path) for guarded in protected):
            logger.warning("not letting plugins read %s: it holds %s", path, protected)
            continue
        out.append(path)
    return out


@functools.cache
def sdk_source() -> Path:
    """The folder ``inventory_providers`` is imported from (environments name it in a .pth)."""
    return Path(inventory_providers.__file__).resolve().parents[1]


def _policy(
    confinement: Confinement,
    readable: list[str],
    writable: list[Path],
    cgroup: Path | None,
    uid: int | None,
    gid: int | None,
) -> list[str]:
    """The sandbox's arguments (``KEY=VALUE``: it parses no JSON, to start faster)."""
    limits = confinement.limits
    numbers = (limits.memory_mb * MIB, limits.cpu_seconds, limits.max_file_mb * MIB)
    policy = [
        "limits=" + ",".join(str(n) for n in (*numbers, limits.max_processes)),
        "landlock=" + ("required" if confinement.require_landlock else "optional"),
    ]
    if uid is not None:
        policy.append(f"uid={uid}")
    if gid is not None:
        policy.append(f"gid={gid}")
    if cgroup is not None:
        policy.append(f"pids_cgroup={cgroup}")
    policy += [f"read={path}" for path in readable]
    policy += [f"write={path}" for path in (*writable, *WRITABLE_DEVICES)]
    return policy


def _pids_cgroup(confinement: Confinement, name: str) -> Path | None:
    """A pids cgroup for one job run as root without a plugin user, where one can be made."""
    if os.geteuid() != 0 or not _has_pids_cgroup():
        return None
    cgroup = PIDS_CGROUP / "estate" / name
    try:
        cgroup.mkdir(parents=True)
        # The launcher and the namespace's init come on top of the plugin's own.
        (cgroup / "pids.max").write_text(str(confinement.limits.max_processes + 2))
    except OSError as exc:
        logger.warning("no pids cgroup for a plugin (%s): its process limit is not enforced", exc)
        return None
    return cgroup


@functools.cache
def _has_pids_cgroup() -> bool:
    return os.access(PIDS_CGROUP, os.W_OK)


def _remove_cgroup(cgroup: Path) -> None:
    """Remove the job's cgroup once the kernel has taken its last process out."""
    for _ in range(100):
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # busy: the namespace is still being torn down
            time.sleep(0.02)
    logger.warning("pids cgroup %s still busy; left behind", cgroup)


def _state_folder(folder: Path, gid: int | None) -> Path:
    """The provider's state folder, made if new: every process of the provider may
    write it whichever plugin user it runs as (they share the plugin group; a plugin
    replaces a file by renaming a new one over it)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if gid is not None:
        os.chown(folder, 0, gid)
        folder.chmod(0o2770)
    return folder


def _scratch(confinement: Confinement, uid: int | None, gid: int | None) -> Path:
    """A new private folder (0700) for one process, owned by its plugin user if any."""
    root = confinement.scratch_root or Path(tempfile.gettempdir()) / "estate-scratch"
    # Traversable but not listable: a plugin finds its own folder, not the others'.
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root))
    if uid is not None:
        os.chown(scratch, uid, gid if gid is not None else uid)
    return scratch


STALE_SECONDS = 24 * 3600.0
"""A scratch folder of root's (no plugin users) older than this is taken for left
behind; one of a plugin user goes as soon as that user has no process."""


def sweep(confinement: Confinement, now: float | None = None) -> int:
    """Remove what plugin processes of a stopped service left behind; returns how many.

    A scratch folder owned by a plugin user of which no process is alive goes (the
    PID namespace took every process of its job with it); one owned by root (no plugin
    users) goes when it is older than a day. An empty pids cgroup goes when older than
    a minute (younger, it may be a job of another service being started).
    """
    now = time.time() if now is None else now
    root = confinement.scratch_root or Path(tempfile.gettempdir()) / "estate-scratch"
    removed = 0
    live = _live_uids() if root.is_dir() else set()
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue
        users = confinement.users
        if users is not None and users.base <= info.st_uid < users.base + users.count:
            stale = info.st_uid not in live
        else:
            stale = now - info.st_mtime > STALE_SECONDS
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    cgroups = PIDS_CGROUP / "estate"
    for cgroup in cgroups.iterdir() if os.geteuid() == 0 and cgroups.is_dir() else ():
        try:
            if now - cgroup.stat().st_mtime > 60 and not (cgroup / "cgroup.procs").read_text():
                cgroup.rmdir()
                removed += 1
        except OSError:  # busy, or gone meanwhile
            continue
    return removed


def _live_uids() -> set[int]:
    """The real user ids of every process alive now (from ``status``: a process that
    changed its user is not dumpable, and its ``/proc`` folder then belongs to root)."""
    uids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:  # ended meanwhile
                continue
            line = next((line for line in status.splitlines() if line.startswith("Uid:")), "")
            if line:
                uids.add(int(line.split()[1]))
    return uids


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock (asked once, as the
    sandbox asks it)."""
    return sandbox.landlock_abi()


@functools.cache
def _warn_unconfined() -> None:
    logger.warning("plugin processes run UNCONFINED (ESTATE_CONFINE=false)")


@functools.cache
def _warn_no_landlock() -> None:
    logger.warning(
        "this kernel has no Landlock: plugin processes can read whatever their user can "
        "(ESTATE_PLUGIN_REQUIRE_LANDLOCK=false); limits and namespaces still apply"
    )
