"""``estate serve``: a setting a person can fix is one line and exit 1, never a traceback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from served import ESTATE, clean_env, free_port


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ESTATE), "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(ESTATE_DATA_DIR=str(tmp_path / "data"), COLUMNS="80", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_an_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://estate:pa55word@127.0.0.1:{free_port()}/estate"

    result = serve(tmp_path, ESTATE_DATABASE_URL=url)

    assert result.returncode == 1
    line = one_line(result)
    assert line == (
        f"error: cannot connect to the database at {url.replace('pa55word', '***')} "
        "(connection refused): start PostgreSQL or fix ESTATE_DATABASE_URL"
    )


def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    name = f"estate_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    result = serve(tmp_path, ESTATE_DATABASE_URL=url)

    assert result.returncode == 1
    line = one_line(result)
    assert f"cannot connect to the database at {url} (database '{name}' does not exist)" in line
    assert f"createdb {name}" in line


def test_a_malformed_secret_key(tmp_path: Path) -> None:
    result = serve(tmp_path, ESTATE_SECRET_KEY="not-a-fernet-key")

    assert result.returncode == 1
    assert one_line(result).startswith("error: ESTATE_SECRET_KEY is not a valid Fernet key")
    assert "not-a-fernet-key" not in result.stderr


def test_an_unknown_log_format(tmp_path: Path) -> None:
    result = serve(tmp_path, ESTATE_LOG_FORMAT="xml")

    assert result.returncode == 2
    assert one_line(result) == "error: ESTATE_LOG_FORMAT: Input should be 'text' or 'json'"


def test_a_typo_in_offline_stops_the_start(tmp_path: Path) -> None:
    result = serve(tmp_path, ESTATE_OFFLINE="ture")

    assert result.returncode == 2
    assert one_line(result) == (
        "error: ESTATE_OFFLINE: Value error, 'ture' is not one of 1, 0, true, false"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("20", "Input should be less than or equal to 19"),
        ("-1", "Input should be greater than or equal to 0"),
        ("ten", "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_a_background_niceness_out_of_range_stops_the_start(
    tmp_path: Path, value: str, why: str
) -> None:
    result = serve(tmp_path, ESTATE_BACKGROUND_NICE=value)

    assert result.returncode == 2
    assert one_line(result) == f"error: ESTATE_BACKGROUND_NICE: {why}"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("-1", "Input should be greater than or equal to 0"),
        ("11", "Input should be less than or equal to 10"),
        ("nan", "Input should be a finite number"),
        ("half", "Input should be a valid number, unable to parse string as a number"),
    ],
)
def test_a_bad_background_yield_stops_the_start(tmp_path: Path, value: str, why: str) -> None:
    result = serve(tmp_path, ESTATE_BACKGROUND_YIELD=value)

    assert result.returncode == 2
    assert one_line(result) == f"error: ESTATE_BACKGROUND_YIELD: {why}"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("-1", "Input should be greater than or equal to 0"),
        ("257", "Input should be less than or equal to 256"),
        ("four", "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_a_bad_api_concurrency_stops_the_start(tmp_path: Path, value: str, why: str) -> None:
    result = serve(tmp_path, ESTATE_API_CONCURRENCY=value)

    assert result.returncode == 2
    assert one_line(result) == f"error: ESTATE_API_CONCURRENCY: {why}"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "Input should be greater than or equal to 1"),
        ("17", "Input should be less than or equal to 16"),
        ("two", "Input should be a valid integer, unable to parse string as an integer"),
        # The embedded SQLite: a second indexer could only wait for the write lock.
        ("2", "Value error, SQLite has one writer at a time: only 1 indexer can work"),
    ],
)
def test_a_bad_search_indexers_stops_the_start(tmp_path: Path, value: str, why: str) -> None:
    result = serve(tmp_path, ESTATE_SEARCH_INDEXERS=value)

    assert result.returncode == 2
    assert one_line(result) == f"error: ESTATE_SEARCH_INDEXERS: {why}"


def test_json_logs_and_the_service_file(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(ESTATE), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(ESTATE_LOG_FORMAT="json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    service_file = tmp_path / ".estate" / "service.json"
    try:
        deadline = time.monotonic() + 60
        while not service_file.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert json.loads(service_file.read_text()) == {
            "url": f"http://127.0.0.1:{port}",
            "pid": process.pid,
        }
        assert httpx.get(f"http://127.0.0.1:{port}/api/inventory/v1/ping/").is_success
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert not service_file.exists()
    entries = [json.loads(line) for line in stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(
        e["logger"] == "estate.registry.managed" and "simulated:datacenter" in e["message"]
        for e in entries
    )


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("shared", [False, True], ids=["plain", "SO_REUSEPORT"])
def test_a_port_another_process_listens_on_stops_the_start(
    tmp_path: Path, shared: bool, workers: str
) -> None:
    """The service's sockets share their port (SO_REUSEPORT) among its workers; another
    process's socket on it, even one that would share it too, is never joined. The
    port is bound before anything starts, with one process as with several."""
    with socket.socket() as taken:
        if shared:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(ESTATE), "serve", "--port", str(port), "--workers", workers],
            cwd=tmp_path,
            env=clean_env(ESTATE_DATA_DIR=str(tmp_path / "data"), COLUMNS="80"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"
    )
    assert not (tmp_path / "data" / "service.json").exists()
