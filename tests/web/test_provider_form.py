"""The provider form generated from the plugin's connection_parameters: secrets are
write-only (``$encrypted$``, never the value), and only administrators get the form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import API, HTML, create_provider, log_in


def test_the_edit_form_shows_encrypted_for_a_stored_secret_and_viewers_get_403(
    client: TestClient, anonymous: TestClient
) -> None:
    provider = create_provider(
        client, connection_config={"clusters": 1, "password": "simulated", "username": "ops"}
    )
    log_in(anonymous)

    form = anonymous.get(f"/providers/{provider['id']}/edit", headers=HTML)
    new = anonymous.get("/providers/new?plugin=simulated:datacenter", headers=HTML)

    assert form.status_code == 200
    assert 'type="password" data-config="password"' in form.text
    assert 'value="$encrypted$"' in form.text and 'simulated"' not in form.text.split("vendor")[0]
    assert 'data-config="username" data-type="string" value="ops"' in form.text
    assert 'data-config="clusters" data-type="integer" type="number" value="1"' in form.text
    assert new.status_code == 200 and 'data-config="vms_per_host"' in new.text
    assert 'value="10"' in new.text  # the manifest's default

    viewer = client.post(f"{API}/users/", json={"username": "vic", "password": "vic-password-1"})
    member = {"user": viewer.json()["id"], "role": "viewer"}
    assert client.post(f"{API}/organizations/1/members/", json=member).status_code == 201
    other = TestClient(anonymous.app)
    log_in(other, "vic", "vic-password-1")
    assert other.get(f"/providers/{provider['id']}/edit", headers=HTML).status_code == 403
    assert other.get("/providers/new", headers=HTML).status_code == 403
    assert "New provider" not in other.get("/providers").text
