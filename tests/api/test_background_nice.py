"""A collection's thread, its plugin and its ingest writer run at the service's niceness
plus ``background_nice``; the supervised processes, the job executor's threads and the
threads that answer requests do not: real runs through the service, niceness read from
``/proc``."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from estate.runtime.confinement import landlock_abi
from factories import (
    API,
    create_provider,
    descendants,
    fixture_plugin,
    start_run,
    tarball,
    upload,
    wait_for_status,
)

SIMULATED = {"password": "simulated"}
NICE = 7


def niceness(pid: int) -> int:
    """Field 19 of ``/proc/<pid>/stat``."""
    return niceness_of(Path(f"/proc/{pid}/stat"))


@dataclass(frozen=True)
class Earlier:
    """What earlier tests of this process left running: their threads, their processes
    (a cancelled run's thread may still be ending); the test looks at its own only."""

    threads: frozenset[int]
    processes: frozenset[int]


@pytest.fixture
def earlier() -> Earlier:
    return Earlier(
        frozenset(t.native_id for t in threading.enumerate() if t.native_id is not None),
        frozenset(descendants(os.getpid())),
    )


def thread_niceness(earlier: Earlier) -> dict[str, list[int]]:
    """This (test and service) process's Python threads by name, but ``earlier``'s:
    their niceness."""
    found: dict[str, list[int]] = {}
    for thread in threading.enumerate():
        if thread.native_id is None or thread.native_id in earlier.threads:
            continue  # not started yet, or an earlier test's
        try:
            nice = niceness_of(Path(f"/proc/self/task/{thread.native_id}/stat"))
        except OSError:
            continue  # ended meanwhile
        found.setdefault(thread.name, []).append(nice)
    return found


def niceness_of(stat: Path) -> int:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def group_niceness(pid: int) -> int | None:
    """The niceness of ``pid``'s session's autogroup (None: a kernel without them)."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except FileNotFoundError:
        return None


AUTOGROUPS = Path("/proc/self/autogroup").exists()


def plugin_processes(root: int, besides: frozenset[int] = frozenset()) -> dict[int, int]:
    """``{pid: niceness}`` of ``root`` and its descendants that run a plugin (their
    command line names a class path: the launcher, the namespace's init, the plugin),
    except those in ``besides``."""
    found = {}
    for pid in {root, *descendants(root)} - besides:
        try:
            if b"--class-path" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found[pid] = niceness(pid)
        except (OSError, ValueError):
            continue  # ended meanwhile
    return found


def wait_collecting(client: TestClient, run_id: int) -> None:
    """Until the run has stored a batch: its plugin runs, and so does its ingest writer."""
    deadline = time.monotonic() + 30
    while not client.get(f"{API}/collection-runs/{run_id}/").json()["resources_found"]:
        assert time.monotonic() < deadline, "no batch stored in 30 s"
        time.sleep(0.05)


@pytest.fixture(params=["native launcher", "python launcher", "unconfined"])
def niced(
    request: pytest.FixtureRequest, settings: Settings, earlier: Earlier
) -> Iterator[TestClient]:
    confined = request.param != "unconfined"
    if confined and not landlock_abi():
        # As the service itself (ESTATE_PLUGIN_REQUIRE_LANDLOCK): a missing part fails.
        pytest.fail(
            "the kernel has no Landlock, so plugins cannot be confined here; enable it "
            "(CONFIG_SECURITY_LANDLOCK, lsm=landlock)"
        )
    launcher = "python" if request.param == "python launcher" else "auto"
    changed = settings.model_copy(
        update={
            "background_nice": NICE,
            "confine": confined,
            "plugin_launcher": launcher,
            "batch_size": 5,
        }
    )
    with TestClient(create_app(changed)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client


def test_a_collections_plugin_is_niced_and_a_supervised_process_is_not(
    niced: TestClient, earlier: Earlier, tmp_path: Path
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert upload(niced, tarball(fixture_plugin("slow_collect", tmp_path / "p"))).status_code == 201
    slow = create_provider(niced, name="Slow", vendor="test", provider_type="plugin")
    run = start_run(niced, slow["id"])
    wait_collecting(niced, run["id"])

    collecting = plugin_processes(os.getpid(), earlier.processes)
    assert collecting  # the launcher (confined) and the plugin itself
    assert set(collecting.values()) == {min(19, own + NICE)}, collecting
    # In a session of its own: the kernel weighs its autogroup against the service's
    # as a whole, so the group is niced too.
    groups = {group_niceness(pid) for pid in collecting}
    assert groups == ({min(19, own + NICE)} if AUTOGROUPS else {None}), groups

    # The collection's own thread and its ingest writer too (the threads it started:
    # its cancel watchdog, its plugin's output readers); the job executor's thread,
    # which goes on to run other jobs, and the threads answering requests are not.
    threads = thread_niceness(earlier)
    for name in (f"estate-collection-{run['id']}", "estate-ingest-writer"):
        assert threads.pop(name) == [min(19, own + NICE)], name
    assert threads.pop("estate-run-cancel") == [min(19, own + NICE)]
    # the collection's plugin's output readers (niced), a supervised one's (not)
    threads.pop("estate-plugin-output")
    assert any(name.startswith("estate-job") for name in threads), threads
    assert {n for values in threads.values() for n in values} == {own}, threads

    # A connection test is answered by a supervised process: at the service's own niceness.
    simulated = create_provider(niced, connection_config=SIMULATED)
    assert niced.post(f"{API}/providers/{simulated['id']}/test/").json()["ok"] is True
    [entry] = [
        p
        for p in niced.get(f"{API}/plugin-processes/").json()["results"]
        if p["slot"] == f"provider:{simulated['id']}"
    ]
    supervised = plugin_processes(entry["pid"])
    assert entry["pid"] in supervised
    assert set(supervised.values()) == {own}, supervised
    assert group_niceness(entry["pid"]) == (0 if AUTOGROUPS else None)

    assert niced.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code in (200, 202)
    wait_for_status(niced, run["id"], "canceled")


def test_no_niceness_when_set_to_zero(settings: Settings, earlier: Earlier, tmp_path: Path) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with TestClient(
        create_app(settings.model_copy(update={"background_nice": 0, "batch_size": 5}))
    ) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        folder = fixture_plugin("slow_collect", tmp_path / "p")
        assert upload(client, tarball(folder)).status_code == 201
        slow = create_provider(client, name="Slow", vendor="test", provider_type="plugin")
        run = start_run(client, slow["id"])
        wait_collecting(client, run["id"])

        collecting = plugin_processes(os.getpid(), earlier.processes)
        assert collecting and set(collecting.values()) == {own}, collecting
        threads = thread_niceness(earlier)
        assert "estate-ingest-writer" in threads
        assert {n for values in threads.values() for n in values} == {own}, threads

        assert client.post(f"{API}/collection-runs/{run['id']}/cancel/").status_code in (200, 202)
        wait_for_status(client, run["id"], "canceled")
