"""``estate plugin keygen|sign|verify`` offline, and ``estate signing-key …`` against a service."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from factories import fixture_plugin
from served import Estate, words


def test_keygen_sign_and_verify_round_trip_offline(offline: Estate, tmp_path: Path) -> None:
    made = offline.ok("plugin", "keygen", "--out", str(tmp_path / "keys"))
    key_id = made.stdout.split()[-1]
    private = tmp_path / "keys" / "estate-signing.pem"
    public = tmp_path / "keys" / "estate-signing.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert offline("plugin", "keygen", "--out", str(tmp_path / "keys")).exit_code == 2
    folder = fixture_plugin("clitest_box", tmp_path / "box", version="3.0.0")

    offline.ok("plugin", "sign", str(folder), "--key", str(private))
    checked = offline.json("plugin", "verify", str(folder), "--key", str(public))

    assert json.loads((folder / "SIGNATURE").read_text())["key_id"] == key_id
    assert (checked["signature_status"], checked["trust"]) == ("valid", "trusted")
    assert all(check["ok"] for check in checked["checks"])
    other = offline.ok("plugin", "keygen", "--out", str(tmp_path / "other"))
    wrong = offline(
        "plugin", "verify", str(folder), "--key", str(tmp_path / "other" / "estate-signing.pub")
    )
    assert wrong.exit_code == 1
    assert "not in the keyring" in words(wrong)
    assert other.stdout.split()[-1] != key_id

    offline.ok("plugin", "package", str(folder), "-o", str(tmp_path / "box.tar.gz"))
    (folder / "provider.py").write_text((folder / "provider.py").read_text() + "# changed\n")
    tampered = offline("plugin", "verify", str(folder), "--key", str(public))
    assert tampered.exit_code == 1
    assert "modified" in words(tampered)
    # The archive made before the change still verifies; signing it writes a signed copy.
    archive = offline.json("plugin", "verify", str(tmp_path / "box.tar.gz"), "--key", str(public))
    assert archive["signature_status"] == "valid"
    (folder / "SIGNATURE").unlink()
    offline.ok("plugin", "package", str(folder), "-o", str(tmp_path / "plain.tar.gz"))
    unsigned = offline("plugin", "verify", str(tmp_path / "plain.tar.gz"), "--key", str(public))
    assert unsigned.exit_code == 1
    offline.ok("plugin", "sign", str(tmp_path / "plain.tar.gz"), "--key", str(private))
    signed = offline.json(
        "plugin", "verify", str(tmp_path / "plain.signed.tar.gz"), "--key", str(public)
    )
    assert signed["signature_status"] == "valid"


def test_import_upload_verify_against_the_keyring_and_revoke(
    estate: Estate, tmp_path: Path
) -> None:
    estate.ok("plugin", "keygen", "--out", str(tmp_path / "keys"), "--name", "release")
    private, public = tmp_path / "keys" / "release.pem", tmp_path / "keys" / "release.pub.pem"
    folder = fixture_plugin(
        "clitest_box",
        tmp_path / "box",
        constants={"PROVIDER_TYPE": "signedbox"},
        provider_type="signedbox",
    )
    estate.ok("plugin", "sign", str(folder), "--key", str(private))

    imported = estate.json("signing-key", "import", "release", str(public))
    uploaded = estate.json("plugin", "upload", str(folder))
    verified = estate.json("plugin", "verify", str(folder))

    assert uploaded["trust"] == "trusted", uploaded
    assert verified["signature_status"] == "valid"
    listed = estate.json("signing-key", "list")
    assert imported["key_id"] in {k["key_id"] for k in listed["results"]}
    revoked = estate.json("signing-key", "revoke", imported["key_id"], "--reason", "rotated")
    assert revoked["versions_revoked"] == 1
    refused = estate("plugin", "verify", str(folder))
    assert refused.exit_code == 1
    assert "revoked: rotated" in words(refused)
    shown = estate.json("plugin", "show", "clitest:signedbox")
    assert shown["versions"][0]["signature_status"] == "invalid"
