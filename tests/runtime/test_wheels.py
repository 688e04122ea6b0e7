"""Wheels of a plugin's requirements (``runtime.wheels.download``): real pip, no index but
folders the test writes. A requirement's dependencies come too, a source-only one is
built into a wheel, and one no source offers is named."""

from __future__ import annotations

import io
import os
import tarfile
import textwrap
from pathlib import Path

import pytest

from estate.runtime.errors import PluginEnvironmentError
from estate.runtime.wheels import download
from factories import wheel

# A build backend of the standard library alone, in the sdist itself (PEP 517's
# backend-path): pip builds it in isolation with nothing to fetch.
BACKEND = """
import base64, hashlib, zipfile

NAME, VERSION = "tinysrc", "1.0"


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = f"{NAME}-{VERSION}.dist-info"
    files = {
        f"{NAME}.py": open(f"{NAME}.py", "rb").read(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\\n".join(record + [f"{info}/RECORD,,"]) + "\\n").encode()
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(f"{wheel_directory}/{name}", "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
"""


@pytest.fixture(autouse=True)
def no_pip_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip reads none of this machine's configuration: only the sources a test gives."""
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


def sdist(dest: Path) -> Path:
    """``tinysrc-1.0.tar.gz``: a source distribution only, with its own build backend."""
    members = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
        'backend-path = ["."]\n\n[project]\nname = "tinysrc"\nversion = "1.0"\n',
        "backend.py": textwrap.dedent(BACKEND),
        "tinysrc.py": 'VERSION = "1.0"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: tinysrc\nVersion: 1.0\n",
    }
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "tinysrc-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tinysrc-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_requirement_comes_with_its_dependencies(tmp_path: Path) -> None:
    links = tmp_path / "links"
    wheel(links, "toplib", "2.0", "X = 1\n", requires=("deplib>=1",))
    wheel(links, "deplib", "1.5", "Y = 1\n")
    wheel(links, "deplib", "0.9", "Y = 0\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("toplib==2.0\n")

    got = download(requirements, tmp_path / "out", find_links=[str(links)], offline=True)

    assert [p.name for p in got] == [
        "deplib-1.5-py3-none-any.whl",
        "toplib-2.0-py3-none-any.whl",
    ]


def test_a_source_only_requirement_is_built_into_a_wheel(tmp_path: Path) -> None:
    links = tmp_path / "links"
    sdist(links)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinysrc==1.0\n")

    got = download(requirements, tmp_path / "out", find_links=[str(links)], offline=True)

    assert [p.name for p in got] == ["tinysrc-1.0-py3-none-any.whl"]


def test_a_requirement_no_source_offers_is_named(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nowhere-to-be-found==3.1\n")

    with pytest.raises(PluginEnvironmentError) as caught:
        download(
            requirements, tmp_path / "out", find_links=[str(tmp_path)], offline=True,
            name="x:y 1.0.0: requirements.txt",
        )  # fmt: skip

    message = str(caught.value)
    assert message.startswith("x:y 1.0.0: requirements.txt: downloading wheels failed: ")
    assert "No matching distribution found for nowhere-to-be-found==3.1" in message
