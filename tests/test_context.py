"""What the service keeps is private: the data directory 0700, the database 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from estate.bootstrap import prepare
from estate.config import Settings
from estate.context import Context, sqlite_file
from estate.runtime.plugin_users import GROUP, USER, access_acl


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def local(tmp_path: Path, environments_dir: Path) -> Settings:
    """The embedded default: SQLite in the data directory, a generated key and password."""
    return Settings(data_dir=tmp_path / "data", environments_dir=environments_dir)


def private(folder: Path) -> bool:
    """0700, with at most the plugin users' group allowed to search it (an ACL entry
    ``group:<plugin gid>:--x``, shown as the group bits of the mode)."""
    named = [
        (tag, perm, ident)
        for tag, perm, ident in access_acl(folder, folder.stat().st_mode)
        if tag in (USER, GROUP)
    ]
    if mode(folder) == 0o700:
        return named == []
    return mode(folder) == 0o710 and named == [(GROUP, 0o1, Settings().plugin_uid_base)]


def test_a_new_data_directory_and_its_secrets_are_private(local: Settings) -> None:
    context = Context.from_settings(local)
    try:
        prepare(context)
    finally:
        context.close()

    data = local.resolved_data_dir
    assert private(data)
    for name in ("estate.db", "secret.key", "admin_password"):
        assert mode(data / name) == 0o600, name
    assert [mode(p) for p in data.glob("estate.db-*")] == [0o600] * len(
        list(data.glob("estate.db-*"))
    )


def test_an_old_open_install_is_closed_at_start(local: Settings) -> None:
    data = local.resolved_data_dir
    data.mkdir(mode=0o755)
    (data / "estate.db").touch(mode=0o644)
    (data / "estate.db").chmod(0o644)

    Context.from_settings(local).close()

    assert mode(data) == 0o700
    assert mode(data / "estate.db") == 0o600


def test_with_a_plugin_user_the_directory_can_be_entered_not_listed(local: Settings) -> None:
    Context.from_settings(local.model_copy(update={"plugin_uid": 65534})).close()

    assert mode(local.resolved_data_dir) == 0o711
    assert mode(local.resolved_data_dir / "estate.db") == 0o600


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/estate/estate.db", Path("/srv/estate/estate.db")),
        ("sqlite:///relative.db?timeout=5", Path("relative.db")),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://estate@db/estate", None),
    ],
)
def test_sqlite_file_names_the_database_file(url: str, path: Path | None) -> None:
    assert sqlite_file(url) == path
