"""``estate plugin bundle export|import``: one data directory's signed plugin, with the
wheel of its requirement, carried into ANOTHER data directory that has no network.

Real parts throughout: the source installation is the real app on SQLite or
PostgreSQL; the requirement's wheel is served by a real ``python -m http.server`` as a
package index (and, for the other tests, from a ``--find-links`` folder); export runs
the real ``pip``; the import runs as the ``estate`` program, under ``unshare -n`` (a
network namespace with nothing but a downed loopback) where the machine allows it, with
``ESTATE_OFFLINE=1`` and every index variable pointing at a closed port; the target
installation is then started and collects with the imported plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from conftest import ADMIN_PASSWORD, PG_ADMIN, REPO, SECRET_KEY
from estate.api.app import create_app
from estate.config import Settings
from estate.db.engine import make_engine, make_sessionmaker
from estate.db.models import AuditEntry, PluginVersion
from estate.registry.bundles import write_sums
from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, private_pem, public_text
from factories import API, collect, create_provider, fixture_plugin, tarball, upload, wheel
from served import ESTATE, clean_env, free_port, static_server

KEY = "bundlevendor:bundletype"
UNSIGNED = "bundlevendor:unsigned"
ARCHIVE = "archives/bundlevendor-bundletype-1.0.0.tar.gz"
WHEEL = "wheels/tinydep-4.2-py3-none-any.whl"
SOCKET_DIR = "/var/run/postgresql"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The source installation: offline, its requirement's wheel in a wheelhouse of its own
    (not the one an export reads by default: the export must fetch it)."""
    settings.offline = True
    settings.wheelhouse = tmp_path / "source-house"
    wheel(settings.wheelhouse, "tinydep", "4.2", 'VERSION = "4.2"\n')
    return settings


@pytest.fixture
def index_url(tmp_path: Path) -> Iterator[str]:
    """A package index of one wheel, served by ``python -m http.server``."""
    root = tmp_path / "index"
    wheel(root / "simple" / "tinydep", "tinydep", "4.2", 'VERSION = "4.2"\n')
    with static_server(root, ready="simple/") as (url, _):
        yield f"{url}/simple"


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The other installation's database, on the same backend: a file in its data
    directory, or a PostgreSQL database of its own reached through the server's socket
    (which a network namespace does not cut off)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'target' / 'estate.db'}"
        return
    name = f"estate_bundle_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@/{name}?host={SOCKET_DIR}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pip_env() -> dict[str, str]:
    """pip reads no configuration of this machine: the sources are the ones a test gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESTATE_", "PIP_"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "COLUMNS": "250"}


def estate(*args: str, env: dict[str, str], prefix: tuple[str, ...] = ()) -> Any:
    return subprocess.run(
        [*prefix, str(ESTATE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def source_env(settings: Settings) -> dict[str, str]:
    return {
        **pip_env(),
        "ESTATE_DATA_DIR": str(settings.data_dir),
        "ESTATE_DATABASE_URL": settings.database,
    }


def target_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    closed = f"http://127.0.0.1:{free_port()}/simple"
    return clean_env(
        ESTATE_DATA_DIR=str(tmp_path / "target"),
        ESTATE_DATABASE_URL=url,
        ESTATE_OFFLINE="1",
        UV_INDEX_URL=closed,
        UV_DEFAULT_INDEX=closed,
        PIP_INDEX_URL=closed,
        **extra,
    )


def no_network() -> tuple[str, ...]:
    """``unshare -n`` when this machine lets us make a network namespace (root), else
    nothing: the closed index ports and ESTATE_OFFLINE still hold."""
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("unshare", "-n") if done.returncode == 0 else ()


def signed_plugin(root: Path, client: TestClient, key: str = KEY, sign: bool = True) -> bytes:
    vendor, provider_type = key.split(":")
    folder = fixture_plugin(
        "needs_tinydep",
        root,
        constants={"VENDOR": vendor, "PROVIDER_TYPE": provider_type},
        vendor=vendor,
        provider_type=provider_type,
    )
    (folder / "requirements.txt").write_text("tinydep==4.2\n")
    if sign:
        private = new_private_key()
        body = {"name": f"release {key}", "public_key": public_text(private.public_key())}
        assert client.post(f"{API}/signing-keys/", json=body).status_code == 201
        sign_package(folder, private)
    data = tarball(folder)
    answer = upload(client, data)
    assert answer.status_code == 201, answer.text
    return data


def installed(url: str, key: str = KEY) -> int:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            query = select(func.count()).select_from(PluginVersion).where(PluginVersion.key == key)
            return int(session.scalar(query) or 0)
    finally:
        engine.dispose()


def bundle_signing_key(tmp_path: Path) -> Path:
    """A private key file as `estate plugin keygen` writes it."""
    path = tmp_path / "bundle-key.pem"
    path.write_bytes(private_pem(new_private_key()))
    return path


def target_settings(tmp_path: Path, url: str, environments_dir: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "target",
        database_url=url,
        environments_dir=environments_dir,
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET_KEY,
        builtin_plugins_dir=REPO / "plugins",
        offline=True,
        start_timeout=20,
        call_timeout=20,
        run_timeout=60,
    )


def test_a_bundle_carries_a_signed_plugin_and_its_wheel_to_a_site_without_network(
    client: TestClient,
    settings: Settings,
    index_url: str,
    target_url: str,
    environments_dir: Path,
    tmp_path: Path,
) -> None:
    signed_plugin(tmp_path / "plugin", client)
    bundle = tmp_path / "carried" / "plugins.tar"
    bundle_key = bundle_signing_key(tmp_path)

    exported = estate(
        "plugin", "bundle", "export", f"{KEY}@~1.0", "-o", str(bundle), "--index-url", index_url,
        "--key", str(bundle_key), env=source_env(settings),
    )  # fmt: skip

    assert exported.returncode == 0, exported.stderr
    # The table's title wraps at the table's width: read it whole.
    assert "1 wheel(s), 2 key(s)" in " ".join(exported.stdout.split())
    with tarfile.open(bundle) as tar:
        names = set(tar.getnames())
    assert {"index.json", "SHA256SUMS", ARCHIVE, WHEEL} <= names
    assert [n for n in names if n.startswith("keys/")] != []
    # An operator can check a bundle by hand, as its name says.
    unpacked = tmp_path / "by-hand"
    unpacked.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="data")
    checked = subprocess.run(
        ["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout

    prefix = no_network()
    if os.geteuid() == 0:  # as root here, the namespace must be had: no silent fallback
        assert prefix == ("unshare", "-n")
    imported = estate(
        "plugin", "bundle", "import", str(bundle), "--trust-keys", "-o", "json",
        env=target_env(tmp_path, target_url), prefix=prefix,
    )  # fmt: skip

    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr
    assert "imported and trusted" in imported.stderr
    assert "SHA256SUMS signed by key " in imported.stderr
    assert "is not signed" not in imported.stderr
    [result] = json.loads(imported.stdout)
    assert (result["key"], result["version"], result["outcome"]) == (KEY, "1.0.0", "installed")
    assert result["detail"] == "signature valid, trust trusted"
    assert (tmp_path / "target" / "wheels" / "tinydep-4.2-py3-none-any.whl").is_file()

    # The other installation starts and runs it: its environment has the requirement.
    with TestClient(create_app(target_settings(tmp_path, target_url, environments_dir))) as other:
        other.auth = ("admin", ADMIN_PASSWORD)
        [version] = other.get(f"{API}/provider-plugins/{KEY}/versions/").json()
        assert (version["source"], version["state"]) == ("bundle", "ready")
        detail = other.get(f"{API}/provider-plugins/{KEY}/").json()["versions"][0]
        assert (detail["signature_status"], detail["trust"]) == ("valid", "trusted")
        provider = create_provider(
            other, name="Carried", vendor="bundlevendor", provider_type="bundletype",
            connection_config={},
        )  # fmt: skip
        run = collect(other, provider["id"])
        assert run["status"] == "completed", run
        [resource] = other.get(f"{API}/resources/", params={"provider": provider["id"]}).json()[
            "results"
        ]
        assert resource["properties"]["tinydep_version"] == "4.2"
        audit = other.get(f"{API}/audit/", params={"action": "provider-plugins.bundle-import"})
        [entry] = audit.json()["results"]
        assert (entry["object_id"], entry["status"], entry["client"]) == (KEY, 201, "local")
        assert entry["detail"].startswith("1.0.0 installed from plugins.tar")

    # The same bundle again: nothing new, and it says so.
    again = estate(
        "plugin", "bundle", "import", str(bundle), "-o", "json",
        env=target_env(tmp_path, target_url), prefix=prefix,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["outcome"] == "existing"
    assert installed(target_url) == 1


def rewrite(bundle: Path, dest: Path, change: Any) -> Path:
    """``bundle`` unpacked, changed by ``change(folder)``, and packed again as ``dest``."""
    folder = dest.with_suffix("")
    folder.mkdir(parents=True)
    with tarfile.open(bundle) as tar:
        tar.extractall(folder, filter="data")
    change(folder)
    with tarfile.open(dest, "w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(folder).as_posix())
    return dest


def flip_a_byte(folder: Path) -> None:
    path = folder / ARCHIVE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_changed_missing_or_extra_file_refuses_the_bundle_and_installs_nothing(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    signed_plugin(tmp_path / "plugin", client)
    bundle = tmp_path / "plugins.tar"
    links = str(settings.wheelhouse)
    exported = estate(
        "plugin", "bundle", "export", KEY, "-o", str(bundle), "--find-links", links,
        "--index-url", f"http://127.0.0.1:{free_port()}/simple", env=source_env(settings),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    cases = {
        "changed": (flip_a_byte, f"{ARCHIVE}: its sha256 is not the one SHA256SUMS lists"),
        "missing": (
            lambda f: (f / WHEEL).unlink(),
            f"{WHEEL}: listed in SHA256SUMS but missing",
        ),
        "extra": (
            lambda f: (f / "archives" / "evil.tar.gz").write_bytes(b"x"),
            "archives/evil.tar.gz: not listed in SHA256SUMS (a file was added)",
        ),
        "no sums": (
            lambda f: (f / "SHA256SUMS").unlink(),
            "SHA256SUMS: missing: not a bundle",
        ),
    }
    for name, (change, message) in cases.items():
        tampered = rewrite(bundle, tmp_path / name.replace(" ", "-") / "b.tar", change)

        done = estate(
            "plugin", "bundle", "import", str(tampered), "--trust-keys",
            env=target_env(tmp_path, target_url),
        )  # fmt: skip

        assert done.returncode == 2, (name, done.stderr)
        assert message in done.stderr, (name, done.stderr)
        assert "nothing was installed" in done.stderr or name == "no sums"
        assert "Traceback" not in done.stderr
        assert installed(target_url) == 0
        assert not list((tmp_path / "target" / "wheels").glob("*.whl"))


def test_unsigned_and_untrusted_plugins_are_refused_unless_the_importer_says_so(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    signed_plugin(tmp_path / "signed", client)
    signed_plugin(tmp_path / "unsigned", client, key=UNSIGNED, sign=False)
    bundle = tmp_path / "plugins.tar"
    exported = estate(
        "plugin", "bundle", "export", KEY, f"{UNSIGNED}@1.0.0", "-o", str(bundle),
        "--find-links", str(settings.wheelhouse), env=source_env(settings),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert f"{UNSIGNED} 1.0.0 is unsigned" in exported.stderr

    # Neither key trusted nor unsigned allowed: both refused, saying why and what to do.
    refused = estate(
        "plugin", "bundle", "import", str(bundle), "-o", "json",
        env=target_env(tmp_path, target_url),
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    results = {r["key"]: r for r in json.loads(refused.stdout)}
    assert results[KEY]["outcome"] == "refused"
    assert "which is not in the keyring" in results[KEY]["detail"]
    assert results[UNSIGNED]["outcome"] == "refused"
    assert results[UNSIGNED]["detail"].startswith(
        f"{UNSIGNED} 1.0.0 is not signed, and unsigned plugins from bundle sources are refused "
        "(unless `estate plugin bundle import --allow-unsigned` admits them)"
    )
    assert "1 public key(s) in the bundle were not imported: pass --trust-keys" in refused.stderr
    assert "warning: the bundle is not signed (export --key)" in refused.stderr
    assert installed(target_url, KEY) == installed(target_url, UNSIGNED) == 0

    # The importer vouches: the key trusted, the unsigned one admitted with a warning.
    admitted = estate(
        "plugin", "bundle", "import", str(bundle), "--trust-keys", "--allow-unsigned",
        "-o", "json", env=target_env(tmp_path, target_url),
    )  # fmt: skip
    assert admitted.returncode == 0, admitted.stderr
    results = {r["key"]: r for r in json.loads(admitted.stdout)}
    assert results[KEY]["detail"] == "signature valid, trust trusted"
    assert results[UNSIGNED]["detail"] == "signature unsigned, trust unsigned"
    engine = make_engine(target_url)
    with make_sessionmaker(engine)() as session:
        version = session.scalar(select(PluginVersion).where(PluginVersion.key == UNSIGNED))
        assert version is not None and version.source == "bundle"
        assert version.install_log.startswith(
            f"warning: {UNSIGNED} 1.0.0 is not signed (installed as "
            "`estate plugin bundle import --allow-unsigned` asked)"
        )
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "provider-plugins.bundle-import")
        ).all()
        assert sorted((a.object_id, a.status) for a in audited) == [
            (KEY, 201), (KEY, 400), (UNSIGNED, 201), (UNSIGNED, 400),
        ]  # fmt: skip
    engine.dispose()


def exported_bundle(tmp_path: Path, client: TestClient, settings: Settings) -> Path:
    """A bundle of the signed plugin ``KEY`` and its wheel from the wheelhouse."""
    signed_plugin(tmp_path / "plugin", client)
    bundle = tmp_path / "plugins.tar"
    exported = estate(
        "plugin", "bundle", "export", KEY, "-o", str(bundle),
        "--find-links", str(settings.wheelhouse), env=source_env(settings),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    return bundle


def test_a_bundle_without_a_requirements_wheel_fails_offline_naming_it(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    bundle = exported_bundle(tmp_path, client, settings)

    def drop_the_wheel(folder: Path) -> None:
        (folder / WHEEL).unlink()
        write_sums(folder)  # consistent again: the sums cannot tell

    lacking = rewrite(bundle, tmp_path / "lacking" / "b.tar", drop_the_wheel)
    done = estate(
        "plugin", "bundle", "import", str(lacking), "--trust-keys", "-o", "json",
        env=target_env(tmp_path, target_url), prefix=no_network(),
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    [result] = json.loads(done.stdout)
    assert result["outcome"] == "refused"
    assert "requirements.txt: installing the requirements failed" in result["detail"]
    assert (
        "offline (ESTATE_OFFLINE=1): requirements install only from the wheelhouse "
        f"{tmp_path.resolve() / 'target' / 'wheels'} and the plugin's wheels/, and tinydep is "
        "in neither: import a bundle that contains it (`estate plugin bundle import`)"
    ) in result["detail"]
    assert installed(target_url) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "bundlevendor:bundletype@~nonsense", "-o", "x.tar"], "'bundlevendor:bundletype@~nonsense': '~nonsense': ~ takes a version such as ~1.4 or ~1.4.2"),
        (["export", "nope:nothing", "-o", "x.tar"], "'nope:nothing': no version of nope:nothing is installed here"),
        (["export", "nokey", "-o", "x.tar"], "'nokey': not KEY or KEY@RANGE (a key is vendor:provider_type)"),
        (["export", f"{KEY}@", "-o", "x.tar"], f"'{KEY}@': nothing after '@'"),
        (["export", f"{KEY}@>=2", "-o", "x.tar"], f"'{KEY}@>=2': no installed version of {KEY} satisfies '>=2' (available: 1.0.0)"),
        (["import", "missing.tar"], "missing.tar: no such file"),
        (["import", "not-a-bundle.tar"], "not-a-bundle.tar: not a tar or tar.gz archive"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_with_a_clear_error(
    args: list[str], message: str, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    signed_plugin(tmp_path / "plugin", client)
    work = tmp_path / "work"
    work.mkdir()
    (work / "not-a-bundle.tar").write_bytes(b"hello, not a tar" * 64)

    done = subprocess.run(
        [str(ESTATE), "plugin", "bundle", *args],
        env=source_env(settings),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "x.tar").exists()
    assert installed(settings.database) == 1


def test_an_unreadable_index_is_refused_naming_the_field(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    bundle = exported_bundle(tmp_path, client, settings)

    def bad_sha(folder: Path) -> None:
        index = folder / "index.json"
        text = index.read_text()
        index.write_text(text.replace('"sha256": "', '"sha256": "X', 1))
        write_sums(folder)

    broken = rewrite(bundle, tmp_path / "broken" / "b.tar", bad_sha)
    done = estate("plugin", "bundle", "import", str(broken), env=target_env(tmp_path, target_url))

    assert done.returncode == 2, done.stderr
    assert "index.json: plugins[0].versions[0].sha256: String should match pattern" in done.stderr
    assert installed(target_url) == 0


def test_a_signed_bundle_vouches_for_its_wheels(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    """SHA256SUMS alone guards against damage; a bundle rewritten whole (a wheel swapped,
    the sums made again) is caught by the bundle's signature."""
    signed_plugin(tmp_path / "plugin", client)
    bundle = tmp_path / "plugins.tar"
    exported = estate(
        "plugin", "bundle", "export", KEY, "-o", str(bundle), "--find-links",
        str(settings.wheelhouse), "--key", str(bundle_signing_key(tmp_path)),
        env=source_env(settings),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr

    def swap_the_wheel(folder: Path) -> None:
        wheel(folder / "wheels", "tinydep", "4.2", "import os  # something else\n")
        write_sums(folder)

    swapped = rewrite(bundle, tmp_path / "swapped" / "b.tar", swap_the_wheel)
    done = estate(
        "plugin", "bundle", "import", str(swapped), "--trust-keys",
        env=target_env(tmp_path, target_url),
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert "SHA256SUMS.sig: the signature by key " in done.stderr
    assert "does not verify (SHA256SUMS was changed after the bundle was signed)" in done.stderr
    assert installed(target_url) == 0
    assert not list((tmp_path / "target" / "wheels").glob("*.whl"))

    # The untouched bundle, its keys not trusted: the bundle's own signer is unknown.
    unknown = estate(
        "plugin", "bundle", "import", str(bundle), env=target_env(tmp_path, target_url)
    )
    assert unknown.returncode == 2, unknown.stderr
    assert "which is not in the keyring: import it (`estate signing-key import`) or pass " in (
        unknown.stderr
    )
    assert installed(target_url) == 0


def test_a_built_in_travels_with_the_signature_its_index_carries(
    client: TestClient, settings: Settings, target_url: str, tmp_path: Path
) -> None:
    """A built-in's signature (by its installation's managed key) is in the database and
    the index, not in its archive: the import checks the index's."""
    bundle = tmp_path / "builtin.tar"
    exported = estate(
        "plugin", "bundle", "export", "simulated:datacenter", "-o", str(bundle),
        env=source_env(settings),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "0 wheel(s), 1 key(s)" in " ".join(exported.stdout.split())

    untrusted = estate(
        "plugin", "bundle", "import", str(bundle), "-o", "json",
        env=target_env(tmp_path, target_url),
    )  # fmt: skip
    assert untrusted.returncode == 2, untrusted.stderr
    [refused] = json.loads(untrusted.stdout)
    assert "which is not in the keyring" in refused["detail"]

    trusted = estate(
        "plugin", "bundle", "import", str(bundle), "--trust-keys", "-o", "json",
        env=target_env(tmp_path, target_url),
    )  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    [result] = json.loads(trusted.stdout)
    assert (result["key"], result["outcome"]) == ("simulated:datacenter", "installed")
    assert result["detail"] == "signature valid, trust trusted"
