"""A plugin folder's file list and its check before every start, with no database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from estate.runtime.confinement import launch
from estate.runtime.environments import PluginEnvironment
from estate.runtime.errors import PluginModified
from estate.runtime.integrity import file_list, files_digest, verify
from factories import fixture_plugin


def test_the_list_covers_the_plugins_files_but_not_its_signature_or_bytecode(
    tmp_path: Path,
) -> None:
    folder = fixture_plugin("seed", tmp_path / "p")
    (folder / "lib").mkdir()
    (folder / "lib" / "helper.py").write_text("X = 1\n")
    (folder / "SIGNATURE").write_text("{}")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "provider.cpython-311.pyc").write_bytes(b"\0")

    files = file_list(folder)

    assert sorted(files) == [
        "__init__.py",
        "lib/helper.py",
        "manifest.yml",
        "provider.py",
        "requirements.txt",
    ]
    assert files_digest(files) == files_digest(dict(reversed(list(files.items()))))
    verify(folder, files)  # unchanged: no error


def test_a_change_that_keeps_size_and_mtime_an_added_and_a_removed_file_are_named(
    tmp_path: Path,
) -> None:
    folder = fixture_plugin("seed", tmp_path / "p")
    files = file_list(folder)
    provider = folder / "provider.py"
    before = provider.stat()
    data = bytearray(provider.read_bytes())
    data[-2] = ord("#") if data[-2] != ord("#") else ord("!")
    provider.write_bytes(bytes(data))
    os.utime(provider, ns=(before.st_atime_ns, before.st_mtime_ns))

    with pytest.raises(PluginModified, match=r"plugin file provider\.py was changed") as changed:
        verify(folder, files)
    assert changed.value.path == "provider.py"

    (folder / "provider.py").write_bytes(bytes(data))
    files = file_list(folder)
    (folder / "sneaky.py").write_text("")
    with pytest.raises(PluginModified, match=r"sneaky\.py was added"):
        verify(folder, files)
    (folder / "sneaky.py").unlink()
    (folder / "requirements.txt").unlink()
    with pytest.raises(PluginModified, match=r"requirements\.txt was removed"):
        verify(folder, files)


def test_launch_refuses_a_changed_folder_before_building_any_command(tmp_path: Path) -> None:
    folder = fixture_plugin("seed", tmp_path / "p")
    listed = tuple(sorted(file_list(folder).items()))
    (folder / "manifest.yml").write_text("changed: true\n")

    with pytest.raises(PluginModified, match=r"manifest\.yml was changed"):
        launch(PluginEnvironment(folder, files=listed), "define")
