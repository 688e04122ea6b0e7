import gzip
import inspect
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from estate.registry.archive import (
    MAX_MEMBERS,
    archive_name,
    extract,
    find_root,
    pack,
    sha256_of,
)
from estate.registry.errors import InvalidPackage, PackageTooLarge

MB = 1024 * 1024
PLUGIN = {
    "manifest.yml": b"vendor: acme\nprovider_type: widget\n",
    "provider.py": b"class P: ...\n",
    "__init__.py": b"",
    "meta/runtime.yml": b"requires_ansible: '>=2.15'\n",
}


def tar_bytes(build: Callable[[tarfile.TarFile], None], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        build(tar)
    return buffer.getvalue()


def add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    tar.addfile(info)


def plugin_tar(
    prefix: str = "./", extra: dict[str, bytes] | None = None, mode: str = "w:gz"
) -> bytes:
    def build(tar: tarfile.TarFile) -> None:
        for name, data in {**PLUGIN, **(extra or {})}.items():
            add_file(tar, prefix + name, data)

    return tar_bytes(build, mode)


def zip_bytes(files: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def refused(data: bytes, dest: Path, max_bytes: int = MB, **limits: int) -> str:
    with pytest.raises(InvalidPackage) as caught:
        extract(data, dest, max_bytes=max_bytes, **limits)
    assert not dest.exists() or list(dest.iterdir()) == []
    return str(caught.value)


def test_a_tarball_made_from_dot_unpacks(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    for name, data in PLUGIN.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    # What `tar czf plugin.tar.gz .` produces: "./", "./manifest.yml", …
    data = tar_bytes(lambda tar: tar.add(folder, arcname="."))
    dest = tmp_path / "out"
    extract(data, dest, max_bytes=MB)
    assert (dest / "manifest.yml").read_bytes() == PLUGIN["manifest.yml"]
    assert (dest / "meta" / "runtime.yml").is_file()
    assert find_root(dest) == dest


def test_a_single_top_folder_is_the_root(tmp_path: Path) -> None:
    extract(plugin_tar(prefix="vcenter/"), tmp_path / "out", max_bytes=MB)
    assert find_root(tmp_path / "out") == tmp_path / "out" / "vcenter"


def test_a_plain_tar_and_a_zip_unpack(tmp_path: Path) -> None:
    extract(plugin_tar(mode="w"), tmp_path / "tar", max_bytes=MB)
    assert find_root(tmp_path / "tar") == tmp_path / "tar"
    extract(zip_bytes({"acme/" + k: v for k, v in PLUGIN.items()}), tmp_path / "zip", max_bytes=MB)
    assert (find_root(tmp_path / "zip") / "provider.py").read_bytes() == PLUGIN["provider.py"]


def test_the_format_is_told_by_content_not_name(tmp_path: Path) -> None:
    upload = tmp_path / "plugin.zip"
    upload.write_bytes(plugin_tar())
    extract(upload.read_bytes(), tmp_path / "out", max_bytes=MB)
    assert (tmp_path / "out" / "provider.py").is_file()


def test_bytecode_is_skipped_silently(tmp_path: Path) -> None:
    extra = {"__pycache__/provider.cpython-311.pyc": b"\0", "lib/old.pyc": b"\0"}
    extract(plugin_tar(extra=extra), tmp_path / "out", max_bytes=MB)
    assert not (tmp_path / "out" / "__pycache__").exists()
    assert not (tmp_path / "out" / "lib" / "old.pyc").exists()


def test_the_executable_bit_is_kept_and_nothing_else(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "run.sh", b"#!/bin/sh\n", mode=0o4777)
        add_file(tar, "data.txt", b"x", mode=0o666)

    extract(tar_bytes(build), tmp_path / "out", max_bytes=MB)
    assert stat.S_IMODE((tmp_path / "out" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "data.txt").stat().st_mode) == 0o644


@pytest.mark.parametrize("data", [b"", b"hello, world", b"%PDF-1.7 " + b"x" * 600])
def test_something_else_is_not_an_archive(tmp_path: Path, data: bytes) -> None:
    assert refused(data, tmp_path / "out") == "not a tar.gz or zip archive"


def test_a_gzip_that_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    message = refused(gzip.compress(b"just some text" * 100), tmp_path / "out")
    assert message.startswith("not a tar.gz or zip archive")


def test_a_truncated_tarball_is_refused(tmp_path: Path) -> None:
    data = plugin_tar(extra={"big.bin": bytes(range(256)) * 400})
    message = refused(data[: len(data) // 2], tmp_path / "out")
    assert "damaged" in message


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "./../escape", "../x", "a/../../x", "a/.."])
def test_escaping_paths_are_refused_in_a_tar(tmp_path: Path, name: str) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "./manifest.yml", PLUGIN["manifest.yml"])
        add_file(tar, name, b"boom")

    message = refused(tar_bytes(build), tmp_path / "out")
    assert f"archive member {name!r}" in message


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "../x", "C:/windows/evil", "a\\..\\..\\x"])
def test_escaping_paths_are_refused_in_a_zip(tmp_path: Path, name: str) -> None:
    message = refused(zip_bytes({**PLUGIN, name: b"boom"}), tmp_path / "out")
    assert f"archive member {name!r}" in message


def test_symlinks_are_refused(tmp_path: Path) -> None:
    data = tar_bytes(lambda tar: add_special(tar, "passwd", tarfile.SYMTYPE, "/etc/passwd"))
    assert refused(data, tmp_path / "out") == "archive member 'passwd': links are not allowed"


def test_hardlinks_are_refused(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "manifest.yml", b"x")
        add_special(tar, "shadow", tarfile.LNKTYPE, "/etc/shadow")

    assert refused(tar_bytes(build), tmp_path / "out") == (
        "archive member 'shadow': links are not allowed"
    )


def test_zip_symlinks_are_refused(tmp_path: Path) -> None:
    message = refused(zip_bytes(PLUGIN, links=("link",)), tmp_path / "out")
    assert message == "archive member 'link': links are not allowed"


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    data = tar_bytes(lambda tar: add_special(tar, "dev/sda", kind))
    assert (
        refused(data, tmp_path / "out") == "archive member 'dev/sda': device files are not allowed"
    )


def test_a_member_given_twice_is_refused(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "provider.py", b"good")
        add_file(tar, "./provider.py", b"evil")

    message = refused(tar_bytes(build), tmp_path / "out")
    assert message == "archive member './provider.py': conflicts with another member"


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    # The same code path as the default limit, with a limit small enough to be quick.
    limit = 5

    def build(tar: tarfile.TarFile) -> None:
        for index in range(limit + 1):
            add_file(tar, f"f{index}", b"")

    message = refused(tar_bytes(build), tmp_path / "out", max_members=limit)
    assert message == f"the archive has too many members (more than {limit})"
    files = {f"f{index}": b"" for index in range(limit + 1)}
    assert "too many members" in refused(zip_bytes(files), tmp_path / "zip", max_members=limit)


def test_the_member_limit_defaults_to_max_members() -> None:
    assert inspect.signature(extract).parameters["max_members"].default == MAX_MEMBERS == 10_000


def test_an_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    data = plugin_tar()
    with pytest.raises(PackageTooLarge) as caught:
        extract(data, tmp_path / "out", max_bytes=len(data) - 1)
    assert caught.value.status_code == 413
    assert not (tmp_path / "out").exists()


def test_a_tarball_that_unpacks_too_big_is_refused(tmp_path: Path) -> None:
    data = plugin_tar(extra={"zeros.bin": bytes(2 * MB)})
    assert len(data) < 100_000
    with pytest.raises(PackageTooLarge) as caught:
        extract(data, tmp_path / "out", max_bytes=MB)
    assert "'./zeros.bin'" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data = zip_bytes({**PLUGIN, "a.bin": bytes(600_000), "b.bin": bytes(600_000)})
    assert len(data) < 20_000
    with pytest.raises(PackageTooLarge) as caught:
        extract(data, tmp_path / "out", max_bytes=MB)
    assert "'b.bin'" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_refusal_after_good_members_leaves_nothing(tmp_path: Path) -> None:
    refused(plugin_tar(prefix="pkg/", extra={"../../x": b"boom"}), tmp_path / "out")


def test_dest_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        extract(plugin_tar(), tmp_path / "out", max_bytes=MB)
    assert (tmp_path / "out" / "keep").read_text() == "mine"


def test_find_root_wants_a_manifest_at_the_top(tmp_path: Path) -> None:
    nested = {"a/b/" + k: v for k, v in PLUGIN.items()}
    extract(zip_bytes(nested), tmp_path / "deep", max_bytes=MB)
    with pytest.raises(InvalidPackage, match=r"^manifest\.yml is missing at the top"):
        find_root(tmp_path / "deep")
    two = {**{"a/" + k: v for k, v in PLUGIN.items()}, **{"b/" + k: v for k, v in PLUGIN.items()}}
    extract(zip_bytes(two), tmp_path / "two", max_bytes=MB)
    with pytest.raises(InvalidPackage, match=r"manifest\.yml is missing"):
        find_root(tmp_path / "two")


def test_find_root_ignores_hidden_clutter(tmp_path: Path) -> None:
    files = {
        **{"acme/" + k: v for k, v in PLUGIN.items()},
        "__MACOSX/._acme": b"",
        ".DS_Store": b"",
    }
    extract(zip_bytes(files), tmp_path / "out", max_bytes=MB)
    assert find_root(tmp_path / "out") == tmp_path / "out" / "acme"


def test_find_root_wants_provider_py_unless_told_otherwise(tmp_path: Path) -> None:
    files = {k: v for k, v in PLUGIN.items() if k != "provider.py"}
    extract(zip_bytes(files), tmp_path / "out", max_bytes=MB)
    with pytest.raises(InvalidPackage, match=r"^provider\.py is missing$"):
        find_root(tmp_path / "out")
    assert find_root(tmp_path / "out", require_provider=False) == tmp_path / "out"


def make_folder(root: Path) -> Path:
    for name, data in PLUGIN.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "install.sh").write_text("#!/bin/sh\ncurl ...\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "provider.cpython-311.pyc").write_bytes(b"\0")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "bin").mkdir()
    (root / "bin" / "helper").write_text("#!/bin/sh\n")
    (root / "bin" / "helper").chmod(0o700)
    return root


def test_pack_round_trips_without_the_excluded_files(tmp_path: Path) -> None:
    data = pack(make_folder(tmp_path / "plugin"))
    extract(data, tmp_path / "out", max_bytes=MB)
    found = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert found == [
        "__init__.py",
        "bin",
        "bin/helper",
        "manifest.yml",
        "meta",
        "meta/runtime.yml",
        "provider.py",
    ]
    assert stat.S_IMODE((tmp_path / "out" / "bin" / "helper").stat().st_mode) == 0o755


def test_pack_is_deterministic(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "plugin")
    first = pack(folder)
    (folder / "provider.py").touch()
    assert pack(folder) == first
    assert pack(make_folder(tmp_path / "again")) == first
    assert sha256_of(first) == sha256_of(pack(folder))


def test_pack_refuses_symlinks(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "plugin")
    (folder / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(InvalidPackage, match="links are not allowed"):
        pack(folder)


def test_sha256_of() -> None:
    assert sha256_of(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_pack_leaves_out_the_archive_it_writes_and_earlier_ones(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "plugin")
    clean = pack(folder)
    (folder / "myvendor-myplatform-1.0.0.tar.gz").write_bytes(clean)
    (folder / "plugin.tgz").write_bytes(clean)
    target = folder / "next.archive"
    target.write_bytes(clean)

    again = pack(folder, exclude=[target])

    assert again == clean
    assert not any(name.endswith((".tar.gz", ".tgz", ".archive")) for name in _members(again))


def test_pack_keeps_tarballs_in_subfolders(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "plugin")
    (folder / "wheels").mkdir()
    (folder / "wheels" / "dep-1.0.tar.gz").write_bytes(b"an sdist")

    assert "wheels/dep-1.0.tar.gz" in _members(pack(folder))


def test_archive_name() -> None:
    assert archive_name("simulated", "datacenter", "1.0.0") == "simulated-datacenter-1.0.0.tar.gz"


LONG_NAMES = {
    "name": ("a" * 300 + ".py", "a name of 303 bytes, over the 255-byte limit"),
    "path": ("/".join(["d" * 200] * 25) + "/x.py", "bytes, over the 4096-byte limit"),
    "depth": ("d/" * 100 + "x.py", "101 levels deep, over the limit of 64"),
}


@pytest.mark.parametrize("kind", sorted(LONG_NAMES))
def test_names_the_file_system_refuses_are_refused_in_a_tar(tmp_path: Path, kind: str) -> None:
    name, problem = LONG_NAMES[kind]

    message = refused(plugin_tar(extra={name: b"x"}), tmp_path / "out")

    assert message.startswith("archive member '")
    assert message.endswith(problem)


@pytest.mark.parametrize("kind", sorted(LONG_NAMES))
def test_names_the_file_system_refuses_are_refused_in_a_zip(tmp_path: Path, kind: str) -> None:
    name, problem = LONG_NAMES[kind]

    message = refused(zip_bytes({**PLUGIN, name: b"x"}), tmp_path / "out")

    assert message.endswith(problem)
    assert len(message) < 400  # the name is shortened, not repeated whole


def test_a_long_name_within_the_limits_unpacks(tmp_path: Path) -> None:
    name = "n" * 255
    extract(plugin_tar(extra={name: b"x"}), tmp_path / "out", max_bytes=MB)

    assert (tmp_path / "out" / name).read_bytes() == b"x"
