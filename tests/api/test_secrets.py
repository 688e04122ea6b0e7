"""Provider secrets: encrypted at rest, write-only in the API, never in a log."""

import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from estate.api.app import create_app
from estate.config import Settings
from factories import (
    API,
    collect,
    create_provider,
    fixture_plugin,
    patch_config,
    tarball,
    upload,
)

ENCRYPTED = "$encrypted$"
PASSWORD = "pw-Xq7-correct-horse"
TOKEN = "tok-Zr9-battery-staple"
WRONG = "pw-Kd3-wrong-guess"


def _stored(settings):
    engine = create_engine(settings.database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, connection_config, secrets FROM providers ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [tuple(str(value) for value in row) for row in rows]


def _record_bodies(client):
    bodies = []

    def keep(response):
        response.read()
        bodies.append(response.text)

    client.event_hooks["response"].append(keep)
    return bodies


def test_secrets_are_write_only_encrypted_and_never_logged(
    client: TestClient, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = _record_bodies(client)
    folder = fixture_plugin(
        "secrets_probe", tmp_path / "probe", constants={"PASSWORD": PASSWORD, "TOKEN": TOKEN}
    )
    assert upload(client, tarball(folder)).status_code == 201
    config = {"username": "ops", "password": PASSWORD, "api_token": TOKEN, "region": "r1"}

    provider = create_provider(
        client, name="probe", vendor="probe", provider_type="secrets", connection_config=config
    )
    url = f"{API}/providers/{provider['id']}/"

    shown = {"username": "ops", "password": ENCRYPTED, "api_token": ENCRYPTED, "region": "r1"}
    assert provider["connection_config"] == shown
    assert client.get(url).json()["connection_config"] == shown
    assert client.get(f"{API}/providers/").json()["results"][0]["connection_config"] == shown
    [(_, public, sealed)] = _stored(settings)
    assert PASSWORD not in public + sealed and TOKEN not in public + sealed
    key = settings.secret_key.get_secret_value().encode()
    assert json.loads(Fernet(key).decrypt(sealed.encode())) == {
        "password": PASSWORD,
        "api_token": TOKEN,
    }

    run = collect(client, provider["id"])
    assert run["status"] == "completed", run
    log = client.get(f"{API}/collection-runs/{run['id']}/").json()["log"]
    assert "connecting with password *** and token ***" in log
    assert "stdout: *** ***" in log
    assert "stderr: *** ***" in log
    assert client.post(f"{url}test/").json()["ok"] is True

    # "$encrypted$" sent back keeps what is stored; other keys change as sent.
    kept = patch_config(client, provider["id"], **{**shown, "region": "r2"})
    assert kept["connection_config"] == {**shown, "region": "r2"}
    assert collect(client, provider["id"])["status"] == "completed"

    patch_config(client, provider["id"], **{**shown, "password": WRONG})
    failed = collect(client, provider["id"])
    assert failed["status"] == "failed", failed
    assert "refused password *** with token ***" in failed["error_message"]
    tested = client.post(f"{url}test/").json()
    assert tested["ok"] is False
    assert "refused password ***" in tested["message"]

    everything = "\n".join(
        [
            *bodies,
            *(
                json.dumps(client.get(f"{API}/collection-runs/{r}/").json())
                for r in range(1, failed["id"] + 1)
            ),
            *(" ".join(row) for row in _stored(settings)),
            caplog.text,
        ]
    )
    assert "refused password" in everything  # the haystack is the real one
    assert caplog.records  # and the log was captured
    for secret in (PASSWORD, TOKEN, WRONG):
        assert secret not in everything


def test_the_simulated_password_is_kept_by_encrypted_and_checked_by_the_plugin(
    client: TestClient,
) -> None:
    provider = create_provider(
        client, connection_config={"username": "ops", "password": "simulated", "clusters": 1}
    )
    assert provider["connection_config"]["password"] == ENCRYPTED
    assert collect(client, provider["id"])["status"] == "completed"

    patch_config(
        client, provider["id"], username="ops", password=ENCRYPTED, clusters=1, vms_per_host=2
    )
    kept = collect(client, provider["id"])
    assert kept["status"] == "completed", kept
    assert kept["resources_deleted"] > 0  # the new vms_per_host reached the plugin

    # A secret left out of a new connection_config is dropped: no password, no check.
    patch_config(client, provider["id"], username="ops", clusters=1, vms_per_host=2)
    assert (
        "password"
        not in client.get(f"{API}/providers/{provider['id']}/").json()["connection_config"]
    )
    assert collect(client, provider["id"])["status"] == "completed"

    patch_config(client, provider["id"], username="ops", password="not-simulated", clusters=1)
    refused = collect(client, provider["id"])
    assert refused["status"] == "failed"
    assert "password refused for user 'ops'" in refused["error_message"]
    assert refused["resources_deleted"] == 0
    assert "not-simulated" not in json.dumps(refused)


def test_a_secret_of_the_wrong_type_is_refused_without_echoing_it(client: TestClient) -> None:
    response = client.post(
        f"{API}/providers/",
        json={
            "name": "typed",
            "vendor": "simulated",
            "provider_type": "datacenter",
            "connection_config": {"password": 987654321},
        },
    )
    assert response.status_code == 400
    assert "connection_config.password" in response.json()["detail"]
    assert "987654321" not in response.text
    assert client.get(f"{API}/providers/").json()["count"] == 0


@pytest.fixture
def keyfile_settings(settings: Settings) -> Settings:
    """The test settings without ``secret_key``: Estate must make its own key file."""
    return settings.model_copy(update={"secret_key": None})


def test_without_a_configured_key_a_0600_key_file_is_made_and_reused(
    keyfile_settings: Settings,
) -> None:
    path = keyfile_settings.resolved_data_dir / "secret.key"
    assert not path.exists()
    with TestClient(create_app(keyfile_settings)) as client:
        client.auth = ("admin", keyfile_settings.admin_password.get_secret_value())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        provider = create_provider(
            client, connection_config={"password": "simulated", "clusters": 1}
        )
        assert collect(client, provider["id"])["status"] == "completed"
    key = path.read_bytes()
    [(_, _, sealed)] = _stored(keyfile_settings)
    assert json.loads(Fernet(key.strip()).decrypt(sealed.encode())) == {"password": "simulated"}

    with TestClient(create_app(keyfile_settings)) as client:  # a restart reads the same file
        client.auth = ("admin", keyfile_settings.admin_password.get_secret_value())
        assert path.read_bytes() == key
        shown = client.get(f"{API}/providers/{provider['id']}/").json()
        assert shown["connection_config"]["password"] == ENCRYPTED
        assert collect(client, provider["id"])["status"] == "completed"
