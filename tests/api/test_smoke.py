from fastapi.testclient import TestClient

from factories import API, collect, create_provider


def test_ping_needs_no_login(anonymous: TestClient) -> None:
    assert anonymous.get(f"{API}/ping/").json()["status"] == "ok"


def test_collect_simulated(client: TestClient) -> None:
    provider = create_provider(client)
    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    assert run["resources_created"] == run["resources_found"] > 0
