"""``resources/{id}/automations/``: the UIS's page of automation records of a resource,
read from Estate's source of them, its action runs (a run listed: tests/api/test_actions.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from estate.api.schemas import AutomationRecordPublic
from estate.inventory.automations import AutomationRecord, automations_page
from factories import API, all_resources, collect, create_provider

SMALL = {"clusters": 1, "hosts_per_cluster": 1, "vms_per_host": 1}


def test_a_resource_without_automations_answers_an_empty_page(client: TestClient) -> None:
    provider = create_provider(client, connection_config=SMALL)
    collect(client, provider["id"])
    resource = all_resources(client)[0]
    url = f"{API}/resources/{resource['id']}/automations/"

    page = client.get(url, params={"page": 1, "page_size": 10})

    assert page.status_code == 200, page.text
    assert page.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(url, params={"page": 2}).json()["previous"].endswith("page=1")
    assert client.get(url, params={"page_size": 0}).status_code == 400
    assert client.get(url, params={"kind": "x"}).status_code == 400
    assert client.get(f"{API}/resources/99999/automations/").status_code == 404


def test_the_page_has_the_uis_fields_of_an_automation_record(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"][f"{API}/resources/{{resource_id}}/automations/"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]

    assert "AutomationRecordPublic" in str(schema)
    assert set(AutomationRecordPublic.model_fields) == set(AutomationRecord.__slots__) == {
        "id", "resource", "resource_name", "resource_canonical_id", "source_name",
        "correlation_type", "correlation_key", "correlation_confidence", "aap_host_id",
        "aap_host_name", "aap_job_id", "aap_job_name", "aap_job_status",
        "aap_job_started_at", "aap_job_finished_at", "aap_inventory_name",
        "automation_details", "synced_at", "organization",
    }  # fmt: skip


def test_an_outsider_cannot_see_a_resources_automations(client: TestClient) -> None:
    one = client.post(f"{API}/organizations/", json={"name": "One"}).json()["id"]
    two = client.post(f"{API}/organizations/", json={"name": "Two"}).json()["id"]
    provider = create_provider(client, connection_config=SMALL, organization=one)
    collect(client, provider["id"])
    resource = all_resources(client)[0]
    user = client.post(f"{API}/users/", json={"username": "two", "password": "two-password"})
    client.post(f"{API}/organizations/{two}/members/", json={"user": user.json()["id"]})

    answer = client.get(
        f"{API}/resources/{resource['id']}/automations/", auth=("two", "two-password")
    )

    assert answer.status_code == 404
    with client.app.state.context.sessions() as session:  # type: ignore[attr-defined]
        assert automations_page(session, resource["id"], offset=0, limit=10) == (0, [])
