"""Query parameters: a name a route does not take, or a filter value it cannot match,
is a 400 naming it and what is accepted, never an unfiltered or empty list."""

import re

import pytest
from fastapi.testclient import TestClient

from estate.api.app import API_PREFIX
from factories import API, collect, create_provider


def test_every_operation_refuses_a_query_parameter_it_does_not_take(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for template, operations in document["paths"].items():
        if "plugin-apis" in template:
            continue  # the query string is the plugin's
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            response = client.request(method, path, params={"bogus": "1"})
            assert response.status_code == 400, (method, template, response.text)
            assert response.json()["detail"].startswith("query parameter 'bogus': unknown"), (
                method,
                template,
                response.json(),
            )


@pytest.mark.parametrize(
    ("path", "name", "detail"),
    [
        ("resources/", "resourcetype", "unknown; did you mean 'resource_type'?"),
        ("resources/", "type", "query parameter 'type': unknown; did you mean 'os_type'?"),
        ("resources/", "sate", "query parameter 'sate': unknown; did you mean 'state'?"),
        ("providers/", "type", "query parameter 'type': unknown; did you mean 'provider_type'?"),
        ("providers/", "organisation", "did you mean 'organization'?"),
        ("collection-runs/", "state", "did you mean 'status'?"),
        ("events/", "severty", "did you mean 'severity'?"),
        ("provider-plugins/", "limit", "query parameter 'limit': unknown"),
        ("organizations/", "nmae", "query parameter 'nmae': unknown"),
        ("users/", "q", "query parameter 'q': unknown"),
        ("tokens/", "all", "query parameter 'all': unknown"),
        ("resource-types/", "categroy", "did you mean 'category'?"),
        ("plugin-processes/", "state", "query parameter 'state': unknown"),
        ("resources/1/history/", "kind", "query parameter 'kind': unknown"),
    ],
)
def test_an_unknown_parameter_of_a_list_is_named_with_the_closest(
    client: TestClient, path: str, name: str, detail: str
) -> None:
    response = client.get(f"{API}/{path}", params={name: "x"})

    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert "(accepted: " in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("resources/", {"state": "runing"}, "state: 'runing' is not one of active, "),
        ("resources/", {"resource_type": "vm"}, "resource_type: 'vm' is not one of "),
        ("collection-runs/", {"status": "runing"}, "status: 'runing' is not one of pending, "),
        ("events/", {"severity": "loud"}, "severity: 'loud' is not one of debug, info, "),
        ("resource-types/", {"category": "cmpute"}, "category: 'cmpute' is not one of "),
        ("providers/", {"enabled": "maybe"}, "enabled"),
        ("providers/", {"organization": "one"}, "organization"),
        ("resources/", {"include_deleted": "perhaps"}, "include_deleted"),
    ],
)
def test_a_bad_filter_value_is_named_with_the_accepted_ones(
    client: TestClient, path: str, params: dict[str, str], detail: str
) -> None:
    response = client.get(f"{API}/{path}", params=params)

    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]


def test_valid_filters_still_filter(client: TestClient) -> None:
    provider = create_provider(client)
    collect(client, provider["id"])

    def count(**params):
        return client.get(f"{API}/resources/", params=params).json()["count"]

    total = count()
    hosts = count(resource_type="hypervisor_host")
    assert 0 < hosts < total
    assert count(resource_type="hypervisor_host", state="unknown") <= hosts
    runs = client.get(f"{API}/collection-runs/", params={"status": "completed"}).json()
    assert runs["count"] == 1


def test_plugin_routes_take_any_query_parameter(client: TestClient) -> None:
    response = client.get(f"{API}/plugin-apis/nosuch:plugin/x", params={"anything": "1"})
    assert response.status_code == 404, response.text


def test_the_document_lists_the_values_of_state_and_resource_type(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    parameters = {
        p["name"]: p for p in document["paths"][f"{API_PREFIX}/resources/"]["get"]["parameters"]
    }
    assert "running" in parameters["state"]["schema"]["enum"]
    assert "virtual_machine" in parameters["resource_type"]["schema"]["enum"]
