"""The plugin repository on the pages: each version's signature status, trust, yank and
compatibility on /plugins and the catalog; a provider's version policy and what it
resolves to. System administrators are offered yank, unyank, delete, pin, unpin and
rollback (which post to the API, checked by tests/api); a viewer is offered none."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from estate.registry.signed_package import sign_package
from estate.registry.signing import new_private_key, public_pem
from factories import (
    API,
    HTML,
    collect,
    create_provider,
    fixture_plugin,
    log_in,
    tarball,
    upload,
)

HOT = "hot:load"
REASON = "loses disks on resize"


def _upload(client: TestClient, root: Path, version: str, **manifest: object) -> None:
    folder = fixture_plugin("hot_load", root / version, version=version, **manifest)
    answer = upload(client, tarball(folder))
    assert answer.status_code == 201, answer.text


def _upload_signed(client: TestClient, root: Path, version: str) -> None:
    private = new_private_key()
    body = {"name": "release key", "public_key": public_pem(private.public_key()).decode()}
    assert client.post(f"{API}/signing-keys/", json=body).status_code == 201
    folder = fixture_plugin("hot_load", root / version, version=version)
    sign_package(folder, private)
    answer = upload(client, tarball(folder))
    assert answer.status_code == 201, answer.text


def _viewer(client: TestClient) -> TestClient:
    made = client.post(f"{API}/users/", json={"username": "vera", "password": "vera-pw-123"})
    assert made.status_code == 201, made.text
    member = {"user": made.json()["id"], "role": "viewer"}
    assert client.post(f"{API}/organizations/1/members/", json=member).status_code == 201
    viewer = TestClient(client.app)
    log_in(viewer, "vera", "vera-pw-123")
    return viewer


def _admin(client: TestClient) -> TestClient:
    admin = TestClient(client.app)
    log_in(admin)
    return admin


def _versions(page: str, key: str) -> dict[str, str]:
    """The plugins page's version items of ``key``: version → its HTML."""
    row = page.split(f'<tr data-key="{key}">', 1)[1].split("</tr>", 1)[0]
    return dict(re.findall(r'<li data-version="([^"]+)">(.*?)</li>', row, re.S))


def test_plugins_and_catalog_show_trust_yank_and_compatibility_per_role(
    client: TestClient, tmp_path: Path
) -> None:
    _upload_signed(client, tmp_path, "1.0.0")
    _upload(client, tmp_path, "1.1.0")
    _upload(client, tmp_path, "2.0.0", requires_estate=">=99")
    yank = f"{API}/provider-plugins/{HOT}/versions/1.0.0/yank/"
    assert client.post(yank, json={"reason": REASON}).status_code == 200
    admin, viewer = _admin(client), _viewer(client)

    shown = admin.get("/plugins", headers=HTML)
    seen = viewer.get("/plugins", headers=HTML)

    assert shown.status_code == seen.status_code == 200
    for page in (shown.text, seen.text):
        hot = _versions(page, HOT)
        assert set(hot) == {"1.0.0", "1.1.0", "2.0.0"}
        assert 'data-signature="valid"' in hot["1.0.0"] and 'data-trust="trusted"' in hot["1.0.0"]
        assert "data-yanked" in hot["1.0.0"] and REASON in hot["1.0.0"]
        assert 'data-signature="unsigned"' in hot["1.1.0"]
        assert 'data-trust="unsigned"' in hot["1.1.0"]
        assert 'data-compatibility="compatible"' in hot["1.1.0"]
        assert "data-yanked" not in hot["1.1.0"]
        assert 'data-compatibility="incompatible"' in hot["2.0.0"]
        assert "requires_estate &#39;&gt;=99&#39; is not met by Estate" in hot["2.0.0"]
        (builtin,) = _versions(page, "simulated:datacenter").values()
        assert 'data-signature="valid"' in builtin and 'data-trust="managed"' in builtin
    hot = _versions(shown.text, HOT)
    url = f"/api/inventory/v1/provider-plugins/{HOT}/versions"
    assert f'hx-post="{url}/1.0.0/unyank/"' in hot["1.0.0"]
    assert f'hx-post="{url}/1.0.0/yank/"' not in hot["1.0.0"]
    assert f'hx-post="{url}/1.1.0/yank/"' in hot["1.1.0"]
    assert 'data-field="reason"' in hot["1.1.0"] and "required" in hot["1.1.0"]
    assert f'hx-delete="{url}/2.0.0/"' in hot["2.0.0"] and "hx-confirm" in hot["2.0.0"]
    (builtin,) = _versions(shown.text, "simulated:datacenter").values()
    assert "hx-post" not in builtin and "hx-delete" not in builtin  # built in: read-only
    assert "/versions/" not in seen.text and "Yank" not in seen.text

    # The catalog describes the latest compatible version: 1.1.0 (2.0.0 is incompatible).
    listed = viewer.get("/catalog", headers=HTML).text
    detail = viewer.get(f"/catalog/{HOT}", headers=HTML).text
    row = listed.split(f'<tr data-key="{HOT}">', 1)[1].split("</tr>", 1)[0]
    assert "1.1.0" in row and 'data-signature="unsigned"' in row and 'data-trust="unsigned"' in row
    assert 'data-signature="unsigned"' in detail and 'data-trust="unsigned"' in detail
    builtin_row = listed.split('<tr data-key="simulated:datacenter">', 1)[1].split("</tr>", 1)[0]
    assert 'data-signature="valid"' in builtin_row and 'data-trust="managed"' in builtin_row


def test_the_provider_page_shows_its_policy_and_resolution_and_offers_moves_to_admins(
    client: TestClient, tmp_path: Path
) -> None:
    for version in ("1.0.0", "1.1.0"):
        _upload(client, tmp_path, version)
    provider = create_provider(client, name="Hot", vendor="hot", provider_type="load")
    url = f"/providers/{provider['id']}"
    api = f"/api/inventory/v1/providers/{provider['id']}"
    admin, viewer = _admin(client), _viewer(client)

    before = admin.get(url, headers=HTML).text
    seen = viewer.get(url, headers=HTML).text

    for page in (before, seen):
        assert re.search(r'id="version-policy">latest compatible<', page)
        assert re.search(r'id="resolved-version"><code>1.1.0</code>', page)
    assert f'hx-post="{api}/pin/"' in before
    assert '<button id="rollback" disabled' in before  # no job ran: nothing to return to
    assert '<option value="1.0.0">' in before and '<option value="1.1.0" selected>' in before
    assert 'id="unpin"' not in before  # nothing pinned
    for control in ("pin-form", "rollback", "unpin", "/pin/"):
        assert control not in seen, control

    assert collect(client, provider["id"])["status"] == "completed"  # it ran 1.1.0
    pinned = client.post(f"{API}/providers/{provider['id']}/pin/", json={"version": "1.0.0"})
    assert pinned.status_code == 200, pinned.text
    yank = f"{API}/provider-plugins/{HOT}/versions/1.0.0/yank/"
    assert client.post(yank, json={"reason": REASON}).status_code == 200

    after = admin.get(url, headers=HTML).text
    seen = viewer.get(url, headers=HTML).text

    for page in (after, seen):
        assert re.search(r'id="version-policy"><code>1.0.0</code><', page)
        assert re.search(
            r'id="resolved-version"><code>1.0.0</code> <span class="status yanked"', page
        )
        assert f"{HOT} 1.0.0 is yanked ({REASON}); pinned, it still runs" in page
    assert f'hx-post="{api}/unpin/"' in after
    assert f'hx-post="{api}/rollback/"' in after and "Rollback to 1.1.0" in after
    assert '<option value="1.0.0" disabled selected>' in after  # no new pin to a yanked one
