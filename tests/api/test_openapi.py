"""The OpenAPI document says what the API answers: 400 not 422, 401, 404, 409."""

import re

from fastapi.testclient import TestClient

from estate.api.app import API_PREFIX

PING = f"{API_PREFIX}/ping/"


def _operations(document):
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method, template, operation


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_lists_the_error_answers_the_api_gives(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}

    for method, template, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, (method, template)
        if operation.get("parameters") or operation.get("requestBody"):
            assert responses["400"]["content"]["application/json"]["schema"] == problem
        assert ("401" in responses) == (template != PING), (method, template)
        assert ("429" in responses) == (template != PING), (method, template)
        assert ("404" in responses) == ("{" in template), (method, template)
    conflicts = {(m, t) for m, t, op in _operations(document) if "409" in op["responses"]}
    assert conflicts == {
        ("post", f"{API_PREFIX}/provider-plugins/upload/"),
        ("delete", f"{API_PREFIX}/provider-plugins/{{key}}/"),
        ("post", f"{API_PREFIX}/provider-plugins/{{key}}/rollback/"),
        *(
            ("post", f"{API_PREFIX}/provider-plugins/{{key}}/versions/{{version}}/{verb}/")
            for verb in ("yank", "unyank", "compatibility")
        ),
        ("delete", f"{API_PREFIX}/provider-plugins/{{key}}/versions/{{version}}/"),
        ("post", f"{API_PREFIX}/providers/{{provider_id}}/rollback/"),
        ("delete", f"{API_PREFIX}/providers/{{provider_id}}/"),
        ("post", f"{API_PREFIX}/providers/{{provider_id}}/collect/"),
        ("post", f"{API_PREFIX}/providers/{{provider_id}}/schedules/{{schedule_id}}/trigger/"),
        ("post", f"{API_PREFIX}/collection-runs/{{run_id}}/cancel/"),
        ("post", f"{API_PREFIX}/resources/{{resource_id}}/actions/{{name}}/"),
        ("post", f"{API_PREFIX}/providers/{{provider_id}}/actions/{{name}}/"),
        ("post", f"{API_PREFIX}/action-runs/{{action_run_id}}/cancel/"),
        ("patch", f"{API_PREFIX}/users/{{user_id}}/"),
        ("delete", f"{API_PREFIX}/users/{{user_id}}/"),
        ("post", f"{API_PREFIX}/watchlists/{{watchlist_id}}/resources/add/"),
        ("post", f"{API_PREFIX}/watchlists/{{watchlist_id}}/resources/remove/"),
        ("post", f"{API_PREFIX}/provider-plugins/{{key}}/conformance/"),
        ("post", f"{API_PREFIX}/signing-keys/"),
        ("post", f"{API_PREFIX}/signing-keys/{{key_id}}/revoke/"),
        ("post", f"{API_PREFIX}/provider-plugins/install/"),
        ("post", f"{API_PREFIX}/repositories/"),
        ("put", f"{API_PREFIX}/repositories/{{repository_id}}/"),
        ("patch", f"{API_PREFIX}/repositories/{{repository_id}}/"),
        ("post", f"{API_PREFIX}/repositories/{{repository_id}}/sync/"),
    }
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    for ref in set(_refs(document)):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_bad_bodies_and_unknown_ids_answer_what_the_document_says(client: TestClient) -> None:
    """Every operation taking a JSON body, sent a wrong one, and every operation on an
    id or key that does not exist, answers a status its document lists."""
    document = client.get("/openapi.json").json()
    answers = {}
    for method, template, operation in _operations(document):
        if not template.startswith(API_PREFIX) or "plugin-apis" in template:
            continue  # the plugin routes answer what the plugin answers
        path = re.sub(r"\{[^}]+\}", "404404", template)
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            response = client.request(method, path, json={"no such field": 1})
        else:
            response = client.request(method, path)
        answers[(method, template)] = response.status_code
        assert str(response.status_code) in operation["responses"], (
            method,
            template,
            response.text,
        )
    assert answers[("post", f"{API_PREFIX}/providers/")] == 400
    assert answers[("get", f"{API_PREFIX}/providers/{{provider_id}}/")] == 404
