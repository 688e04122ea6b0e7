"""A plugin written for seed 000's service sends words outside Estate's vocabularies:
the records are stored, the states settled, the words kept, one warning per word."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import API, all_resources, collect, create_provider, fixture_plugin, tarball, upload

WORDS = ("state 'stopping'", "state 'maintenance'", "relationship_type 'manages'")


def warnings_of(log: str) -> dict[str, int]:
    lines = [line for line in log.splitlines() if "[warning]" in line]
    return {word: sum(word in line for line in lines) for word in WORDS}


@pytest.mark.parametrize("as_dicts", [False, True], ids=["resource_data", "plain_dicts"])
def test_words_outside_the_vocabularies_cost_neither_the_record_nor_the_run(
    client: TestClient, tmp_path: Path, as_dicts: bool
) -> None:
    """``resource_data``: the SDK settles the words in the plugin's process;
    ``plain_dicts``: the records reach the service as a non-Python plugin sends them."""
    folder = fixture_plugin("foreign_words", tmp_path / "plugin", constants={"AS_DICTS": as_dicts})
    assert upload(client, tarball(folder)).status_code == 201
    provider = create_provider(
        client, name="elsewhere", vendor="elsewhere", provider_type="cloud", connection_config={}
    )

    run = collect(client, provider["id"])

    assert run["status"] == "completed", (run["error_details"], run["log"][-2000:])
    assert run["resources_created"] == 8 and run["errors"] == 0
    assert warnings_of(run["log"]) == dict.fromkeys(WORDS, 1), run["log"]
    found = {r["ems_ref"]: r for r in all_resources(client, provider=provider["id"])}
    assert {ref: (r["state"], r["power_state"]) for ref, r in found.items()} == {
        "i-0000": ("running", None),
        "i-0001": ("stopped", "stopping"),
        "i-0002": ("stopped", "stopping"),
        "i-0003": ("provisioning", "pending"),
        "i-0004": ("stopped", "stopping"),
        "db-orders": ("inactive", "available"),
        "db-audit": ("inactive", "maintenance"),
        "asg-web": ("active", None),
    }
    assert found["db-orders"]["properties"] == {"engine": "postgres", "source_state": "maintenance"}
    assert found["i-0001"]["properties"] == {"instance_type": "t3.micro"}
    stopped = client.get(f"{API}/resources/", params={"state": "stopped"}).json()
    assert stopped["count"] == 3
    group = client.get(f"{API}/resources/{found['asg-web']['id']}/").json()
    managed = [e for e in group["relationships"] if e["relationship_type"] == "manages"]
    assert sorted(e["ems_ref"] for e in managed) == [f"i-{i:04d}" for i in range(5)]
    assert all(e["direction"] == "outgoing" and e["resource_id"] for e in managed)
    instance = client.get(f"{API}/resources/{found['i-0001']['id']}/").json()
    assert {
        "relationship_type": "manages",
        "direction": "incoming",
        "ems_ref": "asg-web",
    }.items() <= next(e for e in instance["relationships"] if e["direction"] == "incoming").items()

    again = collect(client, provider["id"])

    # The same records again: nothing changed, nothing deleted, and the words are
    # warned about in this run's log too.
    assert again["status"] == "completed", again["log"][-2000:]
    assert (again["resources_unchanged"], again["resources_updated"]) == (8, 0)
    assert again["resources_deleted"] == 0
    assert warnings_of(again["log"]) == dict.fromkeys(WORDS, 1), again["log"]
