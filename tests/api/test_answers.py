"""Answers built as plain dicts (api/answers.py) are exactly what their response_model
would serialize: byte for byte, for the resources list in both walks and the detail,
and for the change feed (resource-drift/ and a resource's drift)."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from estate.api.pagination import Page
from estate.api.schemas import ResourceDetail, ResourceDriftPublic, ResourcePublic
from factories import (
    API,
    collect,
    create_provider,
    fixture_plugin,
    patch_config,
    tarball,
    upload,
)


def _as_the_model_writes_it(model: type[BaseModel], content: bytes) -> bytes:
    return model.model_validate_json(content).model_dump_json().encode()


def test_resource_answers_are_their_models_serialization(
    client: TestClient, tmp_path: Path
) -> None:
    dc = create_provider(
        client, name="dc", connection_config={"clusters": 1, "hosts_per_cluster": 2}
    )
    assert collect(client, dc["id"])["status"] == "completed"
    # The seed's plugin leaves most optional columns empty (NULL JSON, NULL numbers).
    assert upload(client, tarball(fixture_plugin("seed", tmp_path / "seed"))).status_code == 201
    seed = create_provider(client, name="seed", vendor="myvendor", provider_type="myplatform")
    assert collect(client, seed["id"])["status"] == "completed"
    first = client.get(f"{API}/resources/", params={"page_size": 5}).json()["results"][0]
    tagged = client.post(
        f"{API}/resources/{first['id']}/tags/add/", json=[{"key": "env", "value": "prod"}]
    )
    assert tagged.status_code == 200, tagged.text

    pages: list[dict[str, Any]] = [
        {"page_size": 7},
        {"page_size": 7, "page": 2},
        {"page_size": 7, "ordering": "-name"},
        {"provider": seed["id"]},
    ]
    cursor = client.get(f"{API}/resources/", params={"page_size": 7}).json()["next"]
    for params in pages:
        answer = client.get(f"{API}/resources/", params=params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == _as_the_model_writes_it(Page[ResourcePublic], answer.content)
    walked = client.get(cursor)
    assert walked.content == _as_the_model_writes_it(Page[ResourcePublic], walked.content)

    items = client.get(f"{API}/resources/", params={"page_size": 1000}).json()["results"]
    assert {"env"} == {t["key"] for item in items for t in item["tags"]}
    assert any(item["disk_gb"] is not None for item in items)
    assert any(item["cpu_count"] is None for item in items)
    # A tagged one, one of each provider, one with incoming and outgoing edges.
    chosen = {items[0]["id"], items[-1]["id"], first["id"]}
    chosen |= {next(i["id"] for i in items if i["resource_type"] == "hypervisor_host")}
    for resource_id in chosen:
        detail = client.get(f"{API}/resources/{resource_id}/")
        assert detail.content == _as_the_model_writes_it(ResourceDetail, detail.content)


def test_drift_answers_are_their_models_serialization(client: TestClient) -> None:
    estate = {"clusters": 1, "hosts_per_cluster": 2, "vms_per_host": 20, "churn_percent": 20}
    dc = create_provider(client, name="dc", connection_config={**estate, "generation": 0})
    first = collect(client, dc["id"])
    patch_config(client, dc["id"], **estate, generation=1)
    second = collect(client, dc["id"])
    patch_config(client, dc["id"], **{**estate, "vms_per_host": 15}, generation=1)
    collect(client, dc["id"])  # some deleted: their changes are empty
    assert first["status"] == second["status"] == "completed"
    model = Page[ResourceDriftPublic]
    feeds: list[dict[str, Any]] = [
        {},
        {"collection_run": second["id"]},
        {"drift_type": "deleted", "page_size": 3, "page": 2},
        {"ordering": "drift_type"},
    ]
    for params in feeds:
        answer = client.get(f"{API}/resource-drift/", params=params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"], params
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == _as_the_model_writes_it(model, answer.content)
    changed = client.get(f"{API}/resource-drift/", params={"drift_type": "modified"}).json()
    resource = changed["results"][0]["resource"]
    assert changed["results"][0]["changes"]
    one = client.get(f"{API}/resources/{resource}/drift/")
    assert one.status_code == 200, one.text
    assert one.content == _as_the_model_writes_it(model, one.content)
