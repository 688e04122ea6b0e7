"""Plain functions that build what tests need: plugin folders, archives, runs."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, insert, null

from conftest import ADMIN_PASSWORD
from estate.db.models import Resource, ResourceBlock

API = "/api/inventory/v1"
FINISHED = ("completed", "partial", "failed", "canceled")

FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def fixture_plugin(
    fixture: str,
    dest: Path,
    /,
    *,
    constants: dict[str, Any] | None = None,
    header: str = "",
    **manifest_overrides: Any,
) -> Path:
    """A copy of ``tests/fixtures/plugins/<fixture>`` at ``dest``, changed as asked.

    ``manifest_overrides`` replace top-level keys of its manifest.yml (``version``,
    ``vendor``...); ``constants`` rewrite module-level ``NAME = value`` lines of its
    provider.py, the one way a test makes a variant of a working plugin. ``header`` is
    module-level code put before the fixture's own: only for deliberately broken plugins.
    """
    shutil.copytree(FIXTURE_PLUGINS / fixture, dest, ignore=shutil.ignore_patterns("__pycache__"))
    if manifest_overrides:
        path = dest / "manifest.yml"
        data = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**data, **manifest_overrides}, sort_keys=False))
    provider = dest / "provider.py"
    source = provider.read_text()
    for constant, value in (constants or {}).items():
        source, found = re.subn(
            rf"^{constant} = .*$", f"{constant} = {value!r}", source, flags=re.M
        )
        assert found == 1, f"{fixture}/provider.py: no single {constant} = ... line"
    provider.write_text(textwrap.dedent(header) + source)
    return dest


def as_release(folder: Path, dest: Path, version: str) -> Path:
    """A copy of the plugin ``folder`` at ``dest`` whose manifest says ``version``: a
    built-in plugin released anew, since a stored version is never replaced."""
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("__pycache__", "*.tar.gz"))
    path = dest / "manifest.yml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "version": version}, sort_keys=False))
    return dest


def manifest(**overrides: Any) -> dict[str, Any]:
    """The seed fixture's manifest.yml as a dict, with ``overrides``."""
    base: dict[str, Any] = yaml.safe_load((FIXTURE_PLUGINS / "seed" / "manifest.yml").read_text())
    base.update(overrides)
    return base


def plugin_dir(
    root: Path,
    *,
    provider: str | None = None,
    manifest_data: dict[str, Any] | None = None,
    requirements: str = "",
    extra_files: dict[str, str] | None = None,
) -> Path:
    """A plugin folder laid out as seed 000 shows, the seed fixture's code unless ``provider``.

    For plugins a test writes on purpose, deliberately broken ones; working plugins are
    folders under ``tests/fixtures/plugins`` (``fixture_plugin``).
    """
    if provider is None:
        provider = (FIXTURE_PLUGINS / "seed" / "provider.py").read_text()
    root.mkdir(parents=True, exist_ok=True)
    data = manifest_data if manifest_data is not None else manifest()
    (root / "manifest.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "provider.py").write_text(textwrap.dedent(provider))
    (root / "__init__.py").write_text("")
    (root / "requirements.txt").write_text(requirements)
    for name, content in (extra_files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def tarball(folder: Path) -> bytes:
    """``tar czf - .`` of the folder, as the seed's curl line packages it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, *, force: bool = False) -> Any:
    return client.post(
        f"{API}/provider-plugins/upload/",
        params={"force": "true"} if force else None,
        files={"plugin": ("plugin.tar.gz", data, "application/gzip")},
    )


def create_provider(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Simulated",
        "infrastructure": "private_cloud",
        "vendor": "simulated",
        "provider_type": "datacenter",
        "endpoint": "dc.local",
        "organization": 1,
    }
    body.update(overrides)
    if (body["vendor"], body["provider_type"]) == ("simulated", "datacenter"):
        # Another plugin's manifest would refuse these keys as unknown.
        body.setdefault(
            "connection_config", {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 3}
        )
    response = client.post(f"{API}/providers/", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for_run(client: httpx.Client, run_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/collection-runs/{run_id}/").json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


def collect(client: TestClient, provider_id: int, timeout: float = 60) -> dict[str, Any]:
    response = client.post(f"{API}/providers/{provider_id}/collect/")
    assert response.status_code == 202, response.text
    return wait_for_run(client, response.json()["id"], timeout)


def wheel(
    dest: Path, name: str, version: str, module_source: str, requires: tuple[str, ...] = ()
) -> Path:
    """A pure-Python wheel of one module ``name`` (distribution ``name``), written by hand,
    depending on ``requires`` (requirement strings).

    A wheel is a zip with the module and a ``.dist-info`` (METADATA, WHEEL, RECORD).
    """
    import base64
    import hashlib
    import zipfile

    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": textwrap.dedent(module_source).encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: estate-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in files.items():
            archive.writestr(member, content)
    return path


TEST_CLASS_PATH = "provider.TestProvider"


def provider_plugin(root: Path, methods: str = "", *, header: str = "") -> Path:
    """The ``counted_vms`` fixture with ``methods`` added to ``TestProvider``, ``header`` before it.

    Only for deliberately broken plugins (garbage on the socket, an import that fails or
    never ends); a working plugin is a fixture folder of its own.
    """
    folder = fixture_plugin("counted_vms", root, header=header)
    body = textwrap.indent(textwrap.dedent(methods).strip("\n"), "    ")
    provider = folder / "provider.py"
    provider.write_text(provider.read_text() + "\n" + body + "\n")
    return folder


def start_run(client: TestClient, provider_id: int) -> dict[str, Any]:
    """``POST collect/`` without waiting: the run as the 202 answered it."""
    response = client.post(f"{API}/providers/{provider_id}/collect/")
    assert response.status_code == 202, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_for_status(
    client: TestClient, run_id: int, status: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll until the run has ``status`` (fails if it finishes with another one first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/collection-runs/{run_id}/").json()
        if run["status"] == status:
            return run
        assert run["status"] not in FINISHED, run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not reach {status!r} in {timeout}s")


def all_resources(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every resource the list endpoint gives for ``params``, following ``next`` links."""
    page: dict[str, Any] = client.get(f"{API}/resources/", params=params).json()
    results: list[dict[str, Any]] = list(page["results"])
    while page["next"]:
        page = client.get(page["next"]).json()
        results.extend(page["results"])
    return results


def patch_config(client: TestClient, provider_id: int, **config: Any) -> dict[str, Any]:
    """Replace a provider's ``connection_config`` with PATCH; the updated provider."""
    response = client.patch(f"{API}/providers/{provider_id}/", json={"connection_config": config})
    assert response.status_code == 200, response.text
    provider: dict[str, Any] = response.json()
    return provider


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``Z`` for a zombie), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0]


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    return process_state(pid) not in (None, "Z")


def live_children(parent: int) -> set[int]:
    """Live child processes of ``parent``, read from ``/proc``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(parent) and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def host_pid(ns_pid: int, root: int) -> int:
    """The pid seen here of the descendant of ``root`` whose pid is ``ns_pid`` in the
    innermost PID namespace (a confined plugin reports pids of its own namespace)."""
    for pid in descendants(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        nspids = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        if int(nspids.split()[-1]) == ns_pid:
            return pid
    raise AssertionError(f"no descendant of {root} is pid {ns_pid} in its namespace")


def plugin_pid(root: int) -> int:
    """The plugin program under ``root``, the sandbox launcher a host starts: the
    deepest process of its chain (launcher, namespace init, plugin)."""
    chain = [root]
    while kids := descendants(chain[-1]):
        chain.append(min(kids))
    return chain[min(2, len(chain) - 1)]


def wait_for_action(client: TestClient, run_id: int, timeout: float = 60) -> dict[str, Any]:
    """Poll an action run until it ends; the run with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"{API}/action-runs/{run_id}/").json()
        if run["status"] in ("completed", "failed", "canceled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"action run {run_id} did not finish in {timeout}s: {run}")


CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
HTML = {"accept": "text/html"}


def log_in(client: TestClient, username: str = "admin", password: str = "") -> str:
    """Log ``client`` in through the web UI's form (admin by default); the page's CSRF token."""
    password = password or ADMIN_PASSWORD
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


BULK_AT = datetime(2026, 12, 1, tzinfo=UTC)


def bulk_rows(provider_ids: list[int], count: int, first_id: int) -> list[dict[str, Any]]:
    """``count`` resources whose providers take turns in runs of 700, ids with a gap
    of a block and a half every 3,000 (blocks partly full, blocks with no row), one
    in nine deleted, with 0 to 2 edges each."""
    rows = []
    for i in range(count):
        edges = [[f"t-{i % 50}", "runs_on"], [f"d-{i % 7}", "attached_to"]][: i % 3]
        rows.append(
            {
                "id": first_id + i + (i // 3000) * (ResourceBlock.SIZE * 3 // 2),
                "provider_id": provider_ids[(i // 700) % len(provider_ids)],
                "ems_ref": f"r-{first_id}-{i}",
                "resource_type": "virtual_machine",
                "name": f"r-{i}",
                "state": "running",
                "content_hash": "h",
                "first_seen_at": BULK_AT,
                "updated_at": BULK_AT,
                "deleted_at": BULK_AT if i % 9 == 4 else None,
                "relationships": edges or null(),  # SQL NULL, as ingest writes none
            }
        )
    return rows


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """In statements of 1,000 rows (SQLAlchemy's "insert many values", which RETURNING
    asks for), as ingest writes batches: PostgreSQL's statement triggers then run once
    a batch, not once a row."""
    conn.execute(insert(Resource).returning(Resource.id), rows).all()


VIEWER = ("viewer", "pw-" * 4)


class Tenants(NamedTuple):
    ours: list[int]  # two providers of organization 1
    theirs: int  # a provider of another organization
    their_organization: int
    member: TestClient  # VIEWER: a viewer of organization 1 only


def ours_and_theirs(client: TestClient, anonymous: TestClient) -> Tenants:
    """Two providers of organization 1, one of another organization, and a client
    authenticated as ``VIEWER``, a viewer of organization 1 only."""
    ours = [create_provider(client, name=f"ours-{i}")["id"] for i in range(2)]
    other = client.post(f"{API}/organizations/", json={"name": "theirs"}).json()["id"]
    theirs = create_provider(client, name="theirs", organization=other)["id"]
    user = client.post(f"{API}/users/", json={"username": VIEWER[0], "password": VIEWER[1]})
    assert user.status_code == 201, user.text
    membership = {"user": user.json()["id"], "role": "viewer"}
    assert client.post(f"{API}/organizations/1/members/", json=membership).status_code == 201
    member = TestClient(anonymous.app)
    member.auth = VIEWER
    return Tenants(ours, theirs, other, member)


class Sent(NamedTuple):
    statement: str
    in_transaction: bool
    """Whether the driver's connection was inside a transaction after it ran."""

    @property
    def verb(self) -> str:
        """The statement's first word: SELECT, INSERT, …"""
        return self.statement.split(None, 1)[0].upper()


@contextmanager
def request_statements(client: TestClient) -> Iterator[list[Sent]]:
    """The SQL statements the app sends meanwhile for requests: not those of the
    service's own threads (the scheduler, the search indexers, a collection still
    finishing), which are all named ``estate-…``."""
    context = client.app.state.context  # type: ignore[attr-defined]
    engines = {context.engine, context.read_engine}  # the writes' and the reads' pools
    sent: list[Sent] = []

    def after(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not threading.current_thread().name.startswith("estate-"):
            dbapi = connection.connection.dbapi_connection
            sent.append(Sent(statement, _in_transaction(dbapi)))

    for engine in engines:
        event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "after_cursor_execute", after)


def autocommit(dbapi_connection: Any) -> bool:
    """Whether the driver's connection runs each statement on its own (psycopg's
    ``autocommit``; sqlite3's ``isolation_level`` None)."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        return bool(dbapi_connection.autocommit)
    return dbapi_connection.isolation_level is None


def _in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver's connection is inside a transaction (psycopg or sqlite3)."""
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        return bool(info.transaction_status.name != "IDLE")
    return bool(dbapi_connection.in_transaction)
