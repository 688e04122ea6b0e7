"""Plugin users: the pool hands out users in turn; ``grant_search`` lets the plugin
group enter (never list) the folders above what plugins must reach, checked by a real
process of another user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from estate.runtime.plugin_users import (
    GROUP,
    MASK,
    UserPool,
    UserRange,
    access_acl,
    grant_search,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

GID = 64500
PROBE = """
import os, sys
os.setgroups([])
os.setresgid({gid}, {gid}, {gid})
os.setresuid({uid}, {uid}, {uid})
for verb, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        os.listdir(path) if verb == "list" else os.stat(path)
        print(verb, "ok")
    except PermissionError:
        print(verb, "denied")
"""


def as_user(uid: int, gid: int, *checks: str) -> list[str]:
    """What a process of ``uid`` in group ``gid`` may do: ``("stat", path, "list", path)``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(uid=uid, gid=gid), *checks],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_a_private_folder_lets_the_plugin_group_enter_never_list(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "inner").mkdir(parents=True)
    private.chmod(0o750)
    tmp_path.chmod(0o755)

    changed = grant_search([private / "inner" / "venv"], GID)

    assert changed[-1] == private  # pytest's own 0700 folders above may come first
    assert all(private.is_relative_to(folder) for folder in changed)
    assert as_user(64501, GID, "stat", str(private / "inner"), "list", str(private)) == [
        "stat ok",
        "list denied",
    ]
    assert as_user(64501, 64999, "stat", str(private / "inner")) == ["stat denied"]
    entries = access_acl(private, private.stat().st_mode)
    assert (GROUP, 0o1, GID) in entries
    assert [perm for tag, perm, _ in entries if tag == MASK] == [0o5], "group keeps r-x only"
    assert grant_search([private / "inner" / "venv"], GID) == [], "once is enough"


def test_a_folder_others_may_enter_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    (tmp_path / "open").mkdir(mode=0o711)

    assert grant_search([tmp_path / "open" / "file"], GID) == []
    assert os.listxattr(tmp_path / "open") == []


def test_the_pool_hands_out_each_user_once_and_the_returned_last() -> None:
    pool = UserPool(UserRange(base=70000, count=2, gid=70000))

    first, second = pool.take(), pool.take()
    with pytest.raises(RuntimeError, match="ESTATE_PLUGIN_UID_COUNT"):
        pool.take()
    pool.give_back(first)

    assert (first, second) == (70000, 70001)
    assert pool.take() == first
