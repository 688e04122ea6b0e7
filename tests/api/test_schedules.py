"""Collection schedules through the API: CRUD, cron validation, next_run_at, roles,
``schedule_count`` on providers, ``trigger/``."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from factories import API, create_provider, wait_for_run

FIELDS = {
    "id",
    "provider",
    "name",
    "cron_expression",
    "enabled",
    "last_run_at",
    "last_run",
    "next_run_at",
    "last_skipped_at",
    "last_result",
    "created_at",
    "updated_at",
}


def _schedules(provider_id: int) -> str:
    return f"{API}/providers/{provider_id}/schedules/"


def test_a_schedule_is_created_read_changed_and_deleted(client: TestClient) -> None:
    provider = create_provider(client)
    before = datetime.now(UTC)

    created = client.post(
        _schedules(provider["id"]), json={"name": "Nightly", "cron_expression": "30 2 * * *"}
    )

    assert created.status_code == 201, created.text
    schedule = created.json()
    assert set(schedule) == FIELDS
    assert schedule["provider"] == provider["id"]
    assert schedule["enabled"] is True
    assert schedule["last_run_at"] is None and schedule["last_skipped_at"] is None
    next_at = datetime.fromisoformat(schedule["next_run_at"])
    assert next_at.utcoffset() == timedelta(0)
    assert (next_at.hour, next_at.minute, next_at.second) == (2, 30, 0)
    assert before < next_at <= before + timedelta(days=1)
    detail = f"{_schedules(provider['id'])}{schedule['id']}/"
    assert client.get(detail).json() == schedule
    listed = client.get(_schedules(provider["id"])).json()
    assert listed["count"] == 1 and listed["results"] == [schedule]

    disabled = client.patch(detail, json={"enabled": False}).json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None
    replaced = client.put(detail, json={"name": "Hourly", "cron_expression": "0 * * * *"}).json()
    assert replaced["name"] == "Hourly" and replaced["enabled"] is True
    assert datetime.fromisoformat(replaced["next_run_at"]).minute == 0

    assert client.delete(detail).status_code == 204
    assert client.get(detail).status_code == 404
    assert client.get(_schedules(provider["id"])).json()["count"] == 0


def test_a_bad_cron_expression_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient,
) -> None:
    provider = create_provider(client)
    url = _schedules(provider["id"])

    for bad in ("61 * * * *", "every day", "* * *", ""):
        response = client.post(url, json={"name": "x", "cron_expression": bad})

        assert response.status_code == 400, (bad, response.text)
        assert "cron_expression" in response.json()["detail"], response.text
    out_of_range = client.post(url, json={"name": "x", "cron_expression": "61 * * * *"})
    assert "out of range" in out_of_range.json()["detail"]
    assert client.get(url).json()["count"] == 0
    good = client.post(url, json={"name": "x", "cron_expression": "0 * * * *"}).json()
    refused = client.patch(f"{url}{good['id']}/", json={"cron_expression": "0 25 * * *"})
    assert refused.status_code == 400 and "cron_expression" in refused.json()["detail"]
    assert client.get(f"{url}{good['id']}/").json()["cron_expression"] == "0 * * * *"


def test_unknown_fields_and_nulls_are_refused(client: TestClient) -> None:
    provider = create_provider(client)
    url = _schedules(provider["id"])

    unknown = client.post(url, json={"name": "x", "cron_expression": "0 * * * *", "cron": "x"})
    schedule = client.post(url, json={"name": "x", "cron_expression": "0 * * * *"}).json()
    null = client.patch(f"{url}{schedule['id']}/", json={"name": None})

    assert unknown.status_code == 400 and "cron" in unknown.json()["detail"]
    assert null.status_code == 400 and "name" in null.json()["detail"]


def test_a_schedule_of_another_provider_is_not_found_under_this_one(client: TestClient) -> None:
    first = create_provider(client, name="first")
    second = create_provider(client, name="second")
    schedule = client.post(
        _schedules(first["id"]), json={"name": "x", "cron_expression": "0 * * * *"}
    ).json()

    response = client.get(f"{_schedules(second['id'])}{schedule['id']}/")

    assert response.status_code == 404
    assert client.get(f"{_schedules(first['id'])}{2**40}/").status_code == 404


def test_providers_show_how_many_schedules_they_have(client: TestClient) -> None:
    first = create_provider(client, name="first")
    second = create_provider(client, name="second")
    for name in ("a", "b"):
        client.post(_schedules(first["id"]), json={"name": name, "cron_expression": "0 * * * *"})

    listed = {p["id"]: p for p in client.get(f"{API}/providers/").json()["results"]}

    assert listed[first["id"]]["schedule_count"] == 2
    assert listed[second["id"]]["schedule_count"] == 0
    assert client.get(f"{API}/providers/{first['id']}/").json()["schedule_count"] == 2


def test_trigger_starts_a_full_collection_now_attributed_to_its_caller(client: TestClient) -> None:
    provider = create_provider(client)
    schedule = client.post(
        _schedules(provider["id"]),
        json={"name": "Yearly", "cron_expression": "0 0 1 1 *", "enabled": False},
    ).json()

    response = client.post(f"{_schedules(provider['id'])}{schedule['id']}/trigger/")

    assert response.status_code == 202, response.text
    run = wait_for_run(client, response.json()["id"])
    assert run["status"] == "completed"
    assert run["trigger"] == "user:admin"
    assert run["collection_type"] == "full"
    busy = client.post(f"{API}/providers/{provider['id']}/collect/")
    again = client.post(f"{_schedules(provider['id'])}{schedule['id']}/trigger/")
    assert busy.status_code == 202 and again.status_code == 409
    wait_for_run(client, busy.json()["id"])
