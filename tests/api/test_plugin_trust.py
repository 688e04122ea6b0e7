"""Plugin integrity and trust through the service: real archives, real Ed25519 keys,
real plugin processes. A signed upload is trusted, a revoked key stops its versions, a
file changed on disk fails the next start naming it, the unsigned policy decides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from estate.config import Settings
from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_pem, public_text
from factories import API, collect, create_provider, fixture_plugin, tarball, upload

HOT = "hot:load"


def _hot(root: Path, version: str = "1.0.0") -> Path:
    return fixture_plugin("hot_load", root, constants={"PREFIX": version}, version=version)


def _import(client: TestClient, public: str, name: str = "release key") -> dict[str, Any]:
    answer = client.post(f"{API}/signing-keys/", json={"name": name, "public_key": public})
    assert answer.status_code == 201, answer.text
    imported: dict[str, Any] = answer.json()
    return imported


def _version(client: TestClient, key: str = HOT) -> dict[str, Any]:
    shown: dict[str, Any] = client.get(f"{API}/provider-plugins/{key}/").json()["versions"][0]
    return shown


def test_a_signed_upload_is_trusted_and_revoking_its_key_stops_its_next_start(
    client: TestClient, tmp_path: Path
) -> None:
    private = new_private_key()
    key = _import(client, public_pem(private.public_key()).decode())
    folder = _hot(tmp_path / "v1")
    sign_package(folder, private)

    uploaded = upload(client, tarball(folder))

    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["signature_status"], uploaded.json()["trust"]) == ("valid", "trusted")
    version = _version(client)
    assert (version["signature_status"], version["signed_by"]) == ("valid", key["key_id"])
    listed = {p["key"]: p for p in client.get(f"{API}/provider-plugins/").json()}
    assert listed[HOT]["trust"] == "trusted"
    assert client.get(f"{API}/catalog/{HOT}/").json()["signature_status"] == "valid"
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    assert collect(client, provider["id"])["status"] == "completed"

    revoked = client.post(
        f"{API}/signing-keys/{key['key_id']}/revoke/", json={"reason": "laptop stolen"}
    )

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["versions_revoked"] == 1
    assert (_version(client)["signature_status"], _version(client)["trust"]) == (
        "invalid",
        "unsigned",
    )
    run = collect(client, provider["id"])
    assert run["status"] == "failed"
    assert "signature is invalid" in run["error_message"], run["error_message"]
    assert "laptop stolen" in run["error_message"]
    again = client.post(f"{API}/signing-keys/{key['key_id']}/revoke/", json={"reason": "x"})
    assert again.status_code == 409
    # A newer version signed by the revoked key is refused at upload: nothing stored.
    newer = _hot(tmp_path / "v2", "2.0.0")
    sign_package(newer, private)
    refused = upload(client, tarball(newer))
    assert refused.status_code == 400
    assert "revoked: laptop stolen" in refused.json()["detail"]
    assert [
        v["version"] for v in client.get(f"{API}/provider-plugins/{HOT}/").json()["versions"]
    ] == ["1.0.0"]


def test_a_file_changed_on_disk_fails_the_next_collection_naming_it(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    assert upload(client, tarball(_hot(tmp_path / "v1"))).status_code == 201
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    assert collect(client, provider["id"])["status"] == "completed"
    (stored,) = (settings.plugins_dir / "hot" / "load").glob("*/plugin/provider.py")
    before = stored.stat()
    # Same size, and the old mtime put back: a (size, mtime) cache would miss it.
    source = stored.read_text()
    stored.write_text(source.replace("PREFIX", "PREFIY", 1))
    os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert stored.stat().st_size == before.st_size

    run = collect(client, provider["id"])

    assert run["status"] == "failed"
    assert "plugin file provider.py was changed" in run["error_message"], run["error_message"]
    assert _version(client)["signature_status"] == "modified"
    events = client.get(f"{API}/events/", params={"provider": provider["id"]}).json()["results"]
    assert [e["type"] for e in events if e["type"] == "plugin.modified"] == ["plugin.modified"]
    assert "provider.py" in next(e for e in events if e["type"] == "plugin.modified")["message"]
    # A file added beside it is refused as well, by name.
    stored.write_text(source)
    os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    (stored.parent / "extra.py").write_text("")
    run = collect(client, provider["id"])
    assert "plugin file extra.py was added" in run["error_message"], run["error_message"]


def test_unsigned_uploads_follow_the_policy_and_bad_signatures_are_always_refused(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    settings.unsigned_plugins = "refuse"
    refused = upload(client, tarball(_hot(tmp_path / "v1")))
    assert refused.status_code == 400
    assert "is not signed" in refused.json()["detail"]
    assert client.get(f"{API}/provider-plugins/{HOT}/").status_code == 404

    settings.unsigned_plugins = "warn"
    warned = upload(client, tarball(_hot(tmp_path / "v1w")))
    assert warned.status_code == 201, warned.text
    assert warned.json()["signature_status"] == "unsigned"
    assert "is not signed" in client.get(f"{API}/provider-plugins/{HOT}/").json()["install_log"]

    settings.unsigned_plugins = "allow"
    allowed = upload(client, tarball(_hot(tmp_path / "v2", "2.0.0")))
    assert allowed.status_code == 201, allowed.text
    assert "is not signed" not in client.get(f"{API}/provider-plugins/{HOT}/").json()["install_log"]

    # Signed by a key not in the keyring; changed after signing: refused under any policy.
    private = new_private_key()
    unknown = _hot(tmp_path / "v3", "3.0.0")
    sign_package(unknown, private)
    answer = upload(client, tarball(unknown))
    assert answer.status_code == 400
    assert "not in the keyring" in answer.json()["detail"]
    _import(client, public_text(private.public_key()))
    (unknown / "provider.py").write_text((unknown / "provider.py").read_text() + "\n# later\n")
    answer = upload(client, tarball(unknown))
    assert answer.status_code == 400
    assert "differ from the ones that were signed" in answer.json()["detail"]
    versions = client.get(f"{API}/provider-plugins/{HOT}/").json()["versions"]
    assert sorted(v["version"] for v in versions) == ["1.0.0", "2.0.0"]


def test_built_in_plugins_are_managed_and_valid_and_a_revoked_managed_key_is_replaced(
    client: TestClient,
) -> None:
    version = _version(client, "simulated:datacenter")
    assert (version["signature_status"], version["trust"]) == ("valid", "managed")
    keys = client.get(f"{API}/signing-keys/").json()["results"]
    (managed,) = [k for k in keys if k["managed"]]
    assert version["signed_by"] == managed["key_id"]
    assert "private" not in str(managed).lower()
    provider = create_provider(client)
    assert collect(client, provider["id"])["status"] == "completed"

    # Revoking the managed key stops the built-ins; the next refresh signs them anew.
    revoked = client.post(
        f"{API}/signing-keys/{managed['key_id']}/revoke/", json={"reason": "rotate"}
    )
    assert revoked.status_code == 200, revoked.text
    assert _version(client, "simulated:datacenter")["signature_status"] == "invalid"
    assert collect(client, provider["id"])["status"] == "failed"
    assert client.post(f"{API}/provider-plugins/refresh/").status_code == 200
    renewed = _version(client, "simulated:datacenter")
    assert (renewed["signature_status"], renewed["trust"]) == ("valid", "managed")
    assert renewed["signed_by"] not in (None, managed["key_id"])
    assert collect(client, provider["id"])["status"] == "completed"


def test_signing_keys_refuse_bad_input_and_keep_the_keyring_unchanged(
    client: TestClient, tmp_path: Path
) -> None:
    before = client.get(f"{API}/signing-keys/").json()["count"]
    good = public_text(new_private_key().public_key())
    cases = [
        ({"name": "k", "public_key": "not base64 at all!"}, 400, "neither PEM nor base64"),
        ({"name": "k", "public_key": "AAAA"}, 400, "32 bytes; this is 3"),
        ({"name": "k", "public_key": good, "colour": "red"}, 400, "colour"),
        ({"name": "", "public_key": good}, 400, "name"),
        ({"name": "k", "public_key": good, "organization": 999}, 400, "no organization"),
    ]
    for body, code, said in cases:
        answer = client.post(f"{API}/signing-keys/", json=body)
        assert answer.status_code == code, (body, answer.text)
        assert said in answer.text, (body, answer.text)
    assert client.get(f"{API}/signing-keys/").json()["count"] == before

    assert _import(client, good)["public_key"] == good
    duplicate = client.post(f"{API}/signing-keys/", json={"name": "again", "public_key": good})
    assert duplicate.status_code == 409
    assert client.get(f"{API}/signing-keys/").json()["count"] == before + 1
    missing = client.post(f"{API}/signing-keys/{'0' * 32}/revoke/", json={"reason": "x"})
    assert missing.status_code == 404
    no_reason = client.post(f"{API}/signing-keys/{'0' * 32}/revoke/", json={})
    assert no_reason.status_code == 400


def test_an_organization_admin_manages_only_that_organizations_keys(client: TestClient) -> None:
    org = client.post(f"{API}/organizations/", json={"name": "Org"}).json()["id"]
    user = client.post(f"{API}/users/", json={"username": "oadmin", "password": "pw-" * 4})
    client.post(
        f"{API}/organizations/{org}/members/", json={"user": user.json()["id"], "role": "admin"}
    )
    auth = ("oadmin", "pw-" * 4)
    own = public_text(new_private_key().public_key())
    wide = public_text(new_private_key().public_key())

    mine = client.post(
        f"{API}/signing-keys/",
        json={"name": "org key", "public_key": own, "organization": org},
        auth=auth,
    )
    installation = client.post(
        f"{API}/signing-keys/", json={"name": "wide", "public_key": wide}, auth=auth
    )

    assert mine.status_code == 201, mine.text
    assert mine.json()["created_by"] == "oadmin"
    assert installation.status_code == 403
    seen = {k["key_id"] for k in client.get(f"{API}/signing-keys/", auth=auth).json()["results"]}
    assert mine.json()["key_id"] in seen
    audit = client.get(f"{API}/audit/", params={"action": "signing-keys.create"}).json()
    assert {e["status"] for e in audit["results"]} >= {201, 403}


def test_a_typo_in_the_unsigned_policy_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="'refuse', 'warn' or 'allow'"):
        Settings(unsigned_plugins="warm")
