"""``estate repository …`` and ``estate plugin install`` against a real service, from a
static index (written here as any release tool would, the archive signed) that
``python -m http.server`` serves in a child process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from factories import fixture_plugin
from served import Estate, static_server, words

KEY = "clitest:remote"


def _site(estate: Estate, tmp_path: Path) -> Path:
    """A static index offering clitest:remote 2.0.0, signed with a key made here."""
    estate.ok("plugin", "keygen", "--out", str(tmp_path / "keys"), "--name", "mirror")
    folder = fixture_plugin(
        "clitest_box", tmp_path / "box",
        constants={"PROVIDER_TYPE": "remote"}, provider_type="remote", version="2.0.0",
    )  # fmt: skip
    estate.ok("plugin", "sign", str(folder), "--key", str(tmp_path / "keys" / "mirror.pem"))
    site = tmp_path / "site"
    (site / "archives").mkdir(parents=True)
    archive = site / "archives" / "clitest-remote-2.0.0.tar.gz"
    estate.ok("plugin", "package", str(folder), "-o", str(archive))
    data = archive.read_bytes()
    version = {
        "version": "2.0.0", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
        "archive": "archives/clitest-remote-2.0.0.tar.gz",
    }  # fmt: skip
    plugin = {"key": KEY, "vendor": "clitest", "provider_type": "remote", "versions": [version]}
    (site / "index.json").write_text(json.dumps({"schema": 1, "plugins": [plugin]}))
    return site


def test_add_sync_install_update_and_remove_a_repository(estate: Estate, tmp_path: Path) -> None:
    site = _site(estate, tmp_path)
    token = tmp_path / "token"
    token.write_text("static-hosts-ignore-it\n")
    with static_server(site) as (url, _):
        added = estate.json(
            "repository", "add", "mirror", url, "--kind", "static", "--token-file", str(token)
        )
        assert (added["token_set"], added["kind"]) == (True, "static")
        assert "static-hosts-ignore-it" not in words(estate.ok("repository", "list"))

        synced = words(estate.ok("repository", "sync", "mirror"))
        assert "synced mirror: 1 version(s) offered" in synced
        assert KEY in words(estate.ok("repository", "plugins", "mirror"))
        table = words(estate.ok("plugin", "available", "--key", KEY))
        assert "1 version(s)" in table and "mirror" in table and "this" in table
        assert f"the only enabled repository offering {KEY} as asked" in table

        untrusted = estate("plugin", "install", KEY, "--source", "mirror")
        assert untrusted.exit_code == 2 and "not in the keyring" in words(untrusted)
        assert "import the public key (`estate signing-key import`" in words(untrusted)
        estate.ok("signing-key", "import", "mirror", str(tmp_path / "keys" / "mirror.pub"))
        installed = words(estate.ok("plugin", "install", KEY, "--version", "~2.0"))
        assert f"installed {KEY} 2.0.0 from mirror" in installed
        assert "trust trusted" in installed
        again = estate.json("plugin", "install", KEY, "--version", "2.0.0", "--source", "mirror")
        assert again["outcome"] == "existing"
        (listed,) = estate.json("plugin", "versions", KEY)
        assert (listed["source"], listed["repository"]) == ("remote", "mirror")
        merged = estate.json("plugin", "available", "--key", KEY, "--installed")
        assert [(r["version"], r["repository"], r["chosen"]) for r in merged["results"]] == [
            ("2.0.0", "mirror", True)
        ]
        assert estate.json("plugin", "available", "--source", "local", "--key", KEY)["count"] == 0

        changed = estate.json("repository", "update", "mirror", "--priority", "5", "--no-token")
        assert (changed["priority"], changed["token_set"]) == (5, False)
        estate.ok("repository", "update", "mirror", "--disable")
        disabled = estate("repository", "sync", "mirror")
        assert disabled.exit_code == 2 and "is disabled" in words(disabled)
    missing = estate("repository", "sync", "nowhere")
    assert missing.exit_code == 3 and "no repository 'nowhere'" in words(missing)
    bad = estate("repository", "add", "ftp", "ftp://example.org")
    assert bad.exit_code == 2 and "http:// or https://" in words(bad)
    estate.ok("repository", "remove", "mirror", "--yes")
    assert "mirror" not in words(estate.ok("repository", "list"))
