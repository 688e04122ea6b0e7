"""Failed logins: throttled per user name and client address with backoff (429 and
Retry-After), the same work for unknown user names as for real ones."""

import statistics
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.config import Settings
from factories import API

ME = f"{API}/users/me/"


QUICK = {
    "login_max_failures": 3,
    "login_max_failures_per_client": 6,
    "login_failure_window": 60.0,
    "login_backoff": 1.0,
    "login_backoff_max": 2.0,
}


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    """The app with a throttle quick enough to wait out: 3 failures, 1 s, then 2 s."""
    with TestClient(create_app(settings.model_copy(update=QUICK))) as client:
        yield client


def test_brute_force_is_throttled_and_the_right_password_waits_too(guarded: TestClient) -> None:
    answers = []
    for attempt in range(300):
        answer = guarded.get(ME, auth=("admin", f"guess-{attempt}"))
        answers.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert answers == [401, 401, 401, 429]
    assert int(answer.headers["retry-after"]) == 1
    assert "try again" in answer.json()["detail"]

    right = guarded.get(ME, auth=("admin", ADMIN_PASSWORD))
    assert right.status_code == 429
    assert right.headers["retry-after"] == "1"

    time.sleep(1.05)
    assert guarded.get(ME, auth=("admin", ADMIN_PASSWORD)).status_code == 200

    # The success cleared the count; three more failures throttle again, for as long.
    for attempt in range(3):
        assert guarded.get(ME, auth=("admin", f"again-{attempt}")).status_code == 401
    assert guarded.get(ME, auth=("admin", ADMIN_PASSWORD)).headers["retry-after"] == "1"


def test_the_throttle_doubles_while_failures_go_on(guarded: TestClient) -> None:
    waits = []
    for _ in range(2):
        for attempt in range(3):
            assert guarded.get(ME, auth=("admin", f"guess-{attempt}")).status_code == 401
        refused = guarded.get(ME, auth=("admin", ADMIN_PASSWORD))
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        time.sleep(waits[-1] + 0.05)

    assert waits == [1, 2]
    assert guarded.get(ME, auth=("admin", ADMIN_PASSWORD)).status_code == 200


def test_guessing_many_names_from_one_address_is_throttled(guarded: TestClient) -> None:
    for name in ("ann", "ben", "cid", "dan", "eve", "fay"):
        assert guarded.get(ME, auth=(name, "password")).status_code == 401

    refused = guarded.get(ME, auth=("admin", ADMIN_PASSWORD))
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    tokens = guarded.get(ME, headers={"Authorization": "Bearer est_guess"})
    assert tokens.status_code == 429


def test_bad_tokens_count_against_the_address(guarded: TestClient) -> None:
    for attempt in range(6):
        bad = guarded.get(ME, headers={"Authorization": f"Bearer est_guess{attempt}"})
        assert bad.status_code == 401

    assert guarded.get(ME, auth=("admin", ADMIN_PASSWORD)).status_code == 429


def test_unknown_user_names_take_as_long_as_real_ones(settings: Settings) -> None:
    roomy = settings.model_copy(
        update={"login_max_failures": 1000, "login_max_failures_per_client": 1000}
    )
    with TestClient(create_app(roomy)) as client:
        times: dict[str, list[float]] = {"admin": [], "nobody-here": []}
        for attempt in range(6):
            for name, spent in times.items():
                started = time.perf_counter()
                answer = client.get(ME, auth=(name, f"wrong-{attempt}"))
                spent.append(time.perf_counter() - started)
                assert answer.status_code == 401
                assert answer.json()["detail"] == "invalid credentials"

    ratio = statistics.median(times["nobody-here"]) / statistics.median(times["admin"])
    assert 0.5 < ratio < 2, times


def test_every_service_process_counts_every_failure(settings: Settings) -> None:
    """Two services on one database (``--workers 2``, or two hosts): the guesses
    spread over both count as one, and either refuses the right password after."""
    quick = settings.model_copy(update=QUICK)
    with TestClient(create_app(quick)) as first, TestClient(create_app(quick)) as second:
        spread = [first, second, first]
        answers = [
            c.get(ME, auth=("admin", f"guess-{i}")).status_code for i, c in enumerate(spread)
        ]

        assert answers == [401, 401, 401]
        assert second.get(ME, auth=("admin", ADMIN_PASSWORD)).status_code == 429
        assert first.get(ME, auth=("admin", ADMIN_PASSWORD)).status_code == 429

        for attempt in range(3):  # three more bad tokens (6 from this address in all)
            bad = second.get(ME, headers={"Authorization": f"Bearer est_guess{attempt}"})
            assert bad.status_code in (401, 429)
        token = first.get(ME, headers={"Authorization": "Bearer est_guess"})
        assert token.status_code == 429  # the address, throttled by the other process
