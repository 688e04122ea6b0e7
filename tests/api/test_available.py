"""``GET provider-plugins/available/``: every source merged, with exact counts when the
same key is in two repositories and installed here, and the choice ``install`` would
make (or its ambiguity) said on every row — the same words ``install`` answers with.
The repositories are static indexes served by ``python -m http.server``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import API, fixture_plugin, tarball, upload
from served import static_server, static_site

HOT = "hot:load"
AVAILABLE = f"{API}/provider-plugins/available/"


def _archive(root: Path, version: str) -> bytes:
    return tarball(fixture_plugin("hot_load", root / version, version=version))


def _listed(client: TestClient, **params: Any) -> dict[str, Any]:
    """The listing of hot:load (the built-ins are rows too: managed, installed)."""
    query = {name: value for name, value in {"key": HOT, **params}.items() if value is not None}
    answer = client.get(AVAILABLE, params=query)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _rows(client: TestClient, **params: Any) -> list[tuple[str, str, str | None, bool]]:
    results = _listed(client, page_size=1000, **params)["results"]
    return [(r["version"], r["source"], r["repository"], r["installed"]) for r in results]


def test_sources_merge_with_exact_counts_and_the_choice_is_never_silent(
    client: TestClient, tmp_path: Path
) -> None:
    assert upload(client, _archive(tmp_path / "local", "1.0.0")).status_code == 201
    versions = ("1.0.0", "1.1.0", "1.2.0-rc.1")
    site = static_site(
        tmp_path / "site", HOT, {v: _archive(tmp_path / "remote", v) for v in versions}
    )
    with static_server(site) as (url, _):
        ids = {}
        for name in ("alpha", "beta"):
            body = {"name": name, "kind": "static", "url": url + "/"}
            ids[name] = client.post(f"{API}/repositories/", json=body).json()["id"]
            synced = client.post(f"{API}/repositories/{ids[name]}/sync/")
            assert synced.status_code == 200, synced.text

    # One row per (key, version, source, repository); installed is per key and version.
    assert _rows(client) == [
        ("1.1.0", "remote", "alpha", False),
        ("1.1.0", "remote", "beta", False),
        ("1.0.0", "local", None, True),
        ("1.0.0", "remote", "alpha", True),
        ("1.0.0", "remote", "beta", True),
    ]
    assert _listed(client)["count"] == 5
    assert _listed(client, prerelease="true")["count"] == 7
    assert _listed(client, installed="true")["count"] == 3
    assert _listed(client, installed="false", prerelease="true")["count"] == 4
    assert _rows(client, source="local") == [("1.0.0", "local", None, True)]
    assert _listed(client, repository="beta")["count"] == 2
    assert _listed(client, key="other:key")["count"] == 0
    states = {(r["source"], r["installed"], r["state"]) for r in _listed(client)["results"]}
    assert states == {("local", True, "ready"), ("remote", True, None), ("remote", False, None)}
    everything = _listed(client, key=None, source="managed")["results"]
    assert everything and all(r["installed"] and r["repository"] is None for r in everything)
    last = _listed(client, page_size=2, page=3)
    assert (last["count"], len(last["results"]), last["next"]) == (5, 1, None)

    # Equal priorities: every row says so, naming both, in install's own words.
    rows = _listed(client)["results"]
    refused = client.post(f"{API}/provider-plugins/install/", json={"key": HOT})
    assert refused.status_code == 409, refused.text
    for row in rows:
        assert (row["ambiguous"], row["chosen_source"], row["chosen"]) == (True, None, False)
        assert row["reason"] == refused.json()["detail"]
        assert "alpha (1.1.0)" in row["reason"] and "beta (1.1.0)" in row["reason"]

    # Preferred: one row is the choice, and the reason says why.
    assert client.patch(f"{API}/repositories/{ids['beta']}/", json={"priority": 10}).is_success
    rows = _listed(client)["results"]
    assert [(r["repository"], r["version"]) for r in rows if r["chosen"]] == [("beta", "1.1.0")]
    assert {(r["chosen_source"], r["chosen_version"], r["ambiguous"]) for r in rows} == {
        ("beta", "1.1.0", False)
    }
    assert "lowest priority number (10)" in rows[0]["reason"]
    assert "alpha (priority 100, 1.1.0)" in rows[0]["reason"]

    # A disabled repository offers nothing.
    assert client.patch(f"{API}/repositories/{ids['beta']}/", json={"enabled": False}).is_success
    assert _rows(client, repository="beta") == []
    only = _listed(client)["results"][0]
    assert (only["chosen_source"], only["chosen"]) == ("alpha", True)
    assert only["reason"] == f"the only enabled repository offering {HOT} as asked"


def test_typos_and_bad_filters_are_refused(client: TestClient) -> None:
    for params, named in [
        ({"keys": HOT}, "keys"),
        ({"source": "mirror"}, "source"),
        ({"installed": "maybe"}, "installed"),
        ({"page_size": 0}, "page_size"),
    ]:
        answer = client.get(AVAILABLE, params=params)
        assert answer.status_code == 400, answer.text
        assert named in answer.text


def test_a_key_offered_by_no_repository_says_so(client: TestClient, tmp_path: Path) -> None:
    assert upload(client, _archive(tmp_path, "1.0.0")).status_code == 201
    (row,) = _listed(client, key=HOT)["results"]
    assert (row["source"], row["installed"], row["chosen_source"]) == ("local", True, None)
    assert row["state"] == "ready"
    assert row["reason"] == f"no enabled repository offers a compatible release of {HOT}"
