"""Events plugins publish during collection: stored with provider and run, listed, masked.

A real plugin folder is packaged and uploaded; its provider calls ``publish_event``
inside a real child process; the events are read back through the real API.
"""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from evented import SECRET, evented_provider, install
from factories import API, collect


def events(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/events/", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_published_events_are_stored_with_provider_and_run(
    client: TestClient, tmp_path: Path
) -> None:
    install(client, tmp_path)
    provider = evented_provider(client)

    run = collect(client, provider["id"])

    assert run["status"] == "completed", run
    page = events(client)
    assert page["count"] == 3
    done, missing, opened = page["results"]
    assert [done["type"], missing["type"], opened["type"]] == [
        "collect.done",
        "vm.missing",
        "session.opened",
    ]
    for event in page["results"]:
        assert event["provider"] == provider["id"]
        assert event["run"] == run["id"]
        assert event["plugin_key"] == "evented:platform"
    assert [done["severity"], missing["severity"], opened["severity"]] == [
        "error",
        "warning",
        "info",
    ]
    assert missing["data"] == {"ems_ref": "vm-9"}
    assert opened["message"] == "logged in as ops with ***"
    assert opened["data"] == {"user": "ops", "token": "***"}
    assert SECRET not in client.get(f"{API}/events/").text
    assert client.get(f"{API}/events/{opened['id']}/").json() == opened


def test_events_are_filtered_by_provider_run_type_and_severity(
    client: TestClient, tmp_path: Path
) -> None:
    install(client, tmp_path)
    first = evented_provider(client, "First")
    second = evented_provider(client, "Second")
    first_run = collect(client, first["id"])
    second_run = collect(client, second["id"])
    again = collect(client, second["id"])

    assert events(client)["count"] == 9
    assert {e["provider"] for e in events(client, provider=first["id"])["results"]} == {first["id"]}
    assert events(client, provider=second["id"])["count"] == 6
    assert {e["run"] for e in events(client, run=again["id"])["results"]} == {again["id"]}
    assert events(client, run=first_run["id"])["count"] == 3
    assert events(client, run=second_run["id"], type="vm.missing")["count"] == 1
    errors = events(client, severity="error")["results"]
    assert [e["run"] for e in errors] == [again["id"], second_run["id"], first_run["id"]]
    assert events(client, type="nothing")["count"] == 0


def test_event_lists_are_paged_and_checked(client: TestClient, tmp_path: Path) -> None:
    install(client, tmp_path)
    provider = evented_provider(client)
    collect(client, provider["id"])

    page = events(client, page_size=2)
    assert page["count"] == 3 and len(page["results"]) == 2
    rest = client.get(page["next"]).json()
    assert [e["type"] for e in rest["results"]] == ["session.opened"]
    assert rest["next"] is None

    bad = client.get(f"{API}/events/", params={"severity": "loud"})
    assert bad.status_code == 400
    assert "severity" in bad.json()["detail"]
    assert client.get(f"{API}/events/", params={"provider": 0}).status_code == 400
    assert client.get(f"{API}/events/999999/").status_code == 404
    assert client.get(f"{API}/events/{2**70}/").status_code == 404


def test_invalid_events_are_ignored_with_a_warning_in_the_run_log(
    client: TestClient, tmp_path: Path
) -> None:
    install(client, tmp_path)
    provider = evented_provider(client, bad_events=True)

    run = collect(client, provider["id"])

    assert run["status"] == "completed", run
    stored = events(client)["results"]
    assert [e["type"] for e in stored] == [
        "collect.done",
        "odd.text",
        "vm.missing",
        "session.opened",
    ]
    # PostgreSQL keeps no NUL character: it is escaped (as in run logs), the event kept.
    assert stored[1]["message"] == "nul\\x00here"
    # Nor an integer beyond 64 bits: it is kept as its digits.
    assert stored[1]["data"] == {"note": "a\\x00b", "huge": str(2**70)}
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    warnings = [line for line in log.splitlines() if "ignored an event from the plugin" in line]
    assert len(warnings) == 3, log
    assert "[warning]" in warnings[0]
    assert "event severity" in warnings[0]
    assert "event unknown: unknown field" in warnings[1]
    assert "event data" in warnings[2] and "64 KB" in warnings[2]


def test_a_run_keeps_at_most_1000_events(client: TestClient, tmp_path: Path) -> None:
    install(client, tmp_path)
    provider = evented_provider(client, flood=1200)

    run = collect(client, provider["id"])

    assert run["status"] == "completed", run
    assert events(client, run=run["id"])["count"] == 1000
    assert events(client, type="collect.done")["count"] == 0
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert log.count("over 1000 events") == 1


def test_events_go_with_their_provider(client: TestClient, tmp_path: Path) -> None:
    install(client, tmp_path)
    provider = evented_provider(client)
    collect(client, provider["id"])
    assert events(client)["count"] == 3

    assert client.delete(f"{API}/providers/{provider['id']}/").status_code == 204

    assert events(client)["count"] == 0


def test_events_need_authentication(anonymous: TestClient) -> None:
    assert anonymous.get(f"{API}/events/").status_code == 401
    assert anonymous.get(f"{API}/events/1/").status_code == 401
