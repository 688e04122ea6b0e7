"""The unprivileged users plugin processes run as when the service runs as root.

Each plugin process gets a user of its own from a range (``ESTATE_PLUGIN_UID_BASE``,
``ESTATE_PLUGIN_UID_COUNT``), all in one plugin group, and none needs an entry in
``/etc/passwd``. On top of Landlock this gives the kernel's oldest checks a say:

- two plugin processes are two users: one cannot read the other's scratch folder
  (0700), signal it or read its ``/proc`` entries, whatever Landlock allows;
- nothing of the service's is theirs: the database, ``secret.key`` and the admin
  password file are 0600 root, the data directory 0700 root;
- ``RLIMIT_NPROC`` counts the processes (and threads) of exactly one plugin process
  tree, since the user is its own: the per-job process limit without a cgroup.

A user is taken when a process is launched and given back when it is done; they are
handed out in turn (the least recently returned first), so a user comes back only
after every other one has been used, long after the kernel removed the last process
of its previous owner.

Such a user must be able to reach what it runs: the interpreter, the plugin's folder
and environment, its scratch folder. Where a folder above those is not searchable by
others (``/root`` when Python lives under it, the data directory, pytest's ``0700``
temporary folders), :func:`grant_search` gives the plugin group *search* on it (``--x``:
enter, never list nor read) with a POSIX ACL entry, and nothing more.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ACL_XATTR = "system.posix_acl_access"
ACL_VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
UNDEFINED_ID = 0xFFFFFFFF
SEARCH = 0o1
_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<HHI")


@dataclass(frozen=True, slots=True)
class UserRange:
    """``count`` users from ``base``, all in the group ``gid``."""

    base: int
    count: int
    gid: int


class UserPool:
    """Hands out the users of one range, one per live plugin process."""

    def __init__(self, users: UserRange) -> None:
        self.users = users
        self._free = deque(range(users.base, users.base + users.count))
        self._lock = threading.Lock()

    def take(self) -> int:
        """A user no other live plugin process of this service has.

        Raises ``RuntimeError`` when every one is in use (more live plugin processes
        than ``ESTATE_PLUGIN_UID_COUNT``).
        """
        with self._lock:
            if not self._free:
                raise RuntimeError(
                    f"all {self.users.count} plugin users are in use; raise "
                    "ESTATE_PLUGIN_UID_COUNT or run fewer plugin processes at once"
                )
            return self._free.popleft()

    def give_back(self, uid: int) -> None:
        with self._lock:
            self._free.append(uid)


_POOLS: dict[UserRange, UserPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_of(users: UserRange) -> UserPool:
    """The one pool of ``users`` in this process."""
    with _POOLS_LOCK:
        return _POOLS.setdefault(users, UserPool(users))


def grant_search(paths: Iterable[str | Path], gid: int) -> list[Path]:
    """Let the group ``gid`` search every folder above ``paths``; returns those changed.

    A folder others may search already is left as it is. Raises ``OSError`` when an
    ACL cannot be written (a file system without ACLs): the caller decides.
    """
    changed: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        for folder in reversed(Path(path).parents):
            if folder in seen:
                continue
            seen.add(folder)
            if _add_search(folder, gid):
                changed.append(folder)
    return changed


def _add_search(folder: Path, gid: int) -> bool:
    """Give ``gid`` search on ``folder`` unless it has it; True when the ACL changed."""
    try:
        info = folder.stat()
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & SEARCH:  # others may search
        return False
    entries = access_acl(folder, info.st_mode)
    group_obj = next(perm for tag, perm, _ in entries if tag == GROUP_OBJ)
    named = [perm for tag, perm, ident in entries if tag == GROUP and ident == gid]
    mask = next((perm for tag, perm, _ in entries if tag == MASK), None)
    if named and named[0] & SEARCH and mask is not None and mask & SEARCH:
        return False
    kept = [(t, p, i) for t, p, i in entries if not (t == GROUP and i == gid) and t != MASK]
    kept.append((GROUP, (named[0] if named else 0) | SEARCH, gid))
    # The mask bounds every group-class entry: widen it by search only, so the file's
    # own group gains nothing it did not have.
    group_class = [p for t, p, _ in kept if t in (USER, GROUP)] + [group_obj]
    widened = (mask if mask is not None else group_obj) | SEARCH
    kept.append((MASK, widened & _union(group_class), UNDEFINED_ID))
    os.setxattr(folder, ACL_XATTR, _encode(kept))
    return True


def _union(perms: list[int]) -> int:
    out = 0
    for perm in perms:
        out |= perm
    return out


def access_acl(folder: Path, mode: int) -> list[tuple[int, int, int]]:
    """The folder's access ACL as ``(tag, permissions, id)``, or the one its ``mode``
    bits amount to."""
    try:
        raw = os.getxattr(folder, ACL_XATTR)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.EOPNOTSUPP):
            raise
        return [
            (USER_OBJ, (mode >> 6) & 7, UNDEFINED_ID),
            (GROUP_OBJ, (mode >> 3) & 7, UNDEFINED_ID),
            (OTHER, mode & 7, UNDEFINED_ID),
        ]
    (version,) = _HEADER.unpack_from(raw)
    if version != ACL_VERSION:
        raise OSError(errno.EINVAL, f"unknown ACL version {version} on {folder}")
    count = (len(raw) - _HEADER.size) // _ENTRY.size
    return [_ENTRY.unpack_from(raw, _HEADER.size + i * _ENTRY.size) for i in range(count)]


def _encode(entries: list[tuple[int, int, int]]) -> bytes:
    """The xattr of ``entries``, ordered as the kernel requires (tag, then id)."""
    ordered = sorted(entries, key=lambda entry: (entry[0], entry[2]))
    return _HEADER.pack(ACL_VERSION) + b"".join(_ENTRY.pack(*entry) for entry in ordered)
