"""The commands that need no service: ``plugin validate`` and ``plugin package``, bad arguments."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from estate.registry.archive import extract, find_root
from estate.registry.manifest import parse_manifest
from factories import fixture_plugin, plugin_dir
from served import Estate, words

REPO = Path(__file__).resolve().parents[2]
SIMULATED = REPO / "plugins" / "simulated" / "datacenter"


def test_validate_passes_the_simulated_plugin(offline: Estate) -> None:
    result = offline.ok("plugin", "validate", str(SIMULATED))

    assert "simulated:datacenter 1.0.0" in result.stdout
    assert "provider.SimulatedDatacenterProvider" in result.stdout


def test_validate_passes_a_plugin_that_is_a_node_program(offline: Estate) -> None:
    result = offline.ok("plugin", "validate", str(SIMULATED.parents[1] / "example/nodejs"))

    assert "example:nodejs 1.0.0" in result.stdout


def test_validate_wants_provider_py_from_a_python_plugin(offline: Estate, tmp_path: Path) -> None:
    folder = fixture_plugin("seed", tmp_path / "plugin")
    (folder / "provider.py").unlink()

    result = offline("plugin", "validate", str(folder))

    assert result.exit_code == 1
    assert "provider.py is missing" in result.stderr


def test_validate_prints_an_import_error_and_exits_1(offline: Estate, tmp_path: Path) -> None:
    # Deliberately broken, so written here: its one import cannot be found.
    folder = plugin_dir(tmp_path / "broken", provider="import estate_missing_dependency\n")

    result = offline("plugin", "validate", str(folder))

    assert result.exit_code == 1
    assert "estate_missing_dependency" in result.stderr
    assert "Traceback" not in result.output


def test_validate_prints_every_manifest_problem(offline: Estate, tmp_path: Path) -> None:
    folder = fixture_plugin(
        "seed",
        tmp_path / "broken",
        version="one",
        supported_resource_types=["virtual_machine", "vm"],
    )

    result = offline("plugin", "validate", str(folder))

    assert result.exit_code == 1
    assert "manifest.yml: version" in words(result)
    assert "supported_resource_types[1]" in words(result)


def test_validate_a_folder_without_a_manifest(offline: Estate, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = offline("plugin", "validate", str(tmp_path / "empty"))

    assert result.exit_code == 1
    assert "manifest.yml is missing" in result.stderr


def test_validate_a_folder_that_does_not_exist(offline: Estate, tmp_path: Path) -> None:
    result = offline("plugin", "validate", str(tmp_path / "nowhere"))

    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: not a folder" in words(result)


def test_package_writes_an_archive_the_registry_accepts(offline: Estate, tmp_path: Path) -> None:
    target = tmp_path / "out" / "simulated.tar.gz"
    target.parent.mkdir()

    result = offline.ok("plugin", "package", str(SIMULATED), "-o", str(target))

    assert f"wrote {target}" in words(result)
    unpacked = tmp_path / "unpacked"
    extract(target.read_bytes(), unpacked, max_bytes=50 * 1024 * 1024)
    root = find_root(unpacked)
    assert parse_manifest((root / "manifest.yml").read_bytes()).key == "simulated:datacenter"
    assert (root / "provider.py").read_bytes() == (SIMULATED / "provider.py").read_bytes()


def test_package_names_the_archive_after_the_plugin(offline: Estate, tmp_path: Path) -> None:
    folder = fixture_plugin("seed", tmp_path / "seed")

    offline.ok("plugin", "package", str(folder))

    assert (Path.cwd() / "myvendor-myplatform-1.0.0.tar.gz").is_file()


def names(archive: Path) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_package_in_the_plugin_folder_never_packs_an_archive(
    offline: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fixture_plugin("seed", tmp_path / "seed")
    monkeypatch.chdir(folder)
    archive = folder / "myvendor-myplatform-1.0.0.tar.gz"

    offline.ok("plugin", "package")
    first = archive.read_bytes()
    offline.ok("plugin", "package")  # the first archive is in the folder now
    offline.ok("plugin", "package", "-o", "again.tar.gz")

    assert archive.read_bytes() == first
    assert (folder / "again.tar.gz").read_bytes() == first
    assert names(archive) == ["__init__.py", "manifest.yml", "provider.py", "requirements.txt"]


def test_package_refuses_a_folder_without_a_manifest(offline: Estate, tmp_path: Path) -> None:
    result = offline("plugin", "package", str(tmp_path))

    assert result.exit_code == 1
    assert "manifest.yml" in result.stderr


def test_provider_key_without_a_colon_exits_2(offline: Estate) -> None:
    result = offline("provider", "create", "--name", "x", "--key", "simulated")

    assert result.exit_code == 2
    assert "--key: expected vendor:provider_type, got 'simulated'" in words(result)


def test_config_without_equals_exits_2(offline: Estate) -> None:
    args = ["--name", "x", "--key", "simulated:datacenter", "-c", "clusters"]

    result = offline("provider", "create", *args)

    assert result.exit_code == 2
    assert "--config: expected KEY=VALUE, got 'clusters'" in words(result)


def test_missing_required_option_exits_2(offline: Estate) -> None:
    result = offline("provider", "create", "--key", "simulated:datacenter")

    assert result.exit_code == 2
    assert "--name" in words(result)


def test_no_credentials_exits_2_saying_where_they_come_from(offline: Estate) -> None:
    result = offline("plugin", "list")

    assert result.exit_code == 2
    assert "estate login" in words(result)
    assert "ESTATE_PASSWORD" in words(result)


def test_the_cli_imports_none_of_the_service_layers() -> None:
    code = (
        "import sys, estate.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
        "('api', 'jobs', 'inventory', 'registry', 'runtime', 'db') and m.startswith('estate.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "[]"
