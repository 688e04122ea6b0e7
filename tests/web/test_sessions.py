"""Web sessions on the server side: the cookie, CSRF, revocation, throttling, error pages.

The UI's buttons call the REST API with the session cookie; these tests make the same
requests a page makes (TestClient over the real app, both databases).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import ADMIN_PASSWORD
from factories import API, CSRF, HTML, create_provider, log_in


def test_the_session_cookie_is_httponly_strict_and_logout_ends_it_on_the_server(
    anonymous: TestClient,
) -> None:
    assert anonymous.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    response = anonymous.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    value = anonymous.cookies["estate_session"]
    page = anonymous.get("/")
    csrf = CSRF.search(page.text)
    assert csrf is not None and "Dashboard" in page.text
    assert anonymous.get(f"{API}/users/me/").json()["username"] == "admin"

    # Logging out needs the page's token: a cross-site form cannot log anyone out.
    refused = anonymous.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    out = anonymous.post("/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"

    replay = TestClient(anonymous.app, cookies={"estate_session": value})
    assert replay.get("/", follow_redirects=False).status_code == 303
    assert replay.get(f"{API}/users/me/").status_code == 401


def test_a_state_changing_api_call_with_the_cookie_needs_the_csrf_token(
    client: TestClient, anonymous: TestClient
) -> None:
    provider = create_provider(client, enabled=False)  # a collect would be refused: 409
    csrf = log_in(anonymous)
    url = f"{API}/providers/{provider['id']}/collect/"

    missing = anonymous.post(url)
    forged = anonymous.post(url, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    accepted = anonymous.post(url, headers={"X-CSRF-Token": csrf})

    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert accepted.status_code == 409, accepted.text  # past CSRF and roles: disabled
    assert "disabled" in accepted.json()["detail"]


def test_a_password_change_or_deactivation_ends_the_users_sessions(
    client: TestClient, anonymous: TestClient
) -> None:
    created = client.post(f"{API}/users/", json={"username": "ann", "password": "ann-password-1"})
    assert created.status_code == 201
    log_in(anonymous, "ann", "ann-password-1")
    other = TestClient(anonymous.app)
    log_in(other, "ann", "ann-password-1")

    reset = client.post(
        f"{API}/users/{created.json()['id']}/password/", json={"password": "ann-password-2"}
    )
    assert reset.status_code == 204
    assert anonymous.get("/", follow_redirects=False).status_code == 303

    log_in(other, "ann", "ann-password-2")
    client.patch(f"{API}/users/{created.json()['id']}/", json={"is_active": False})
    assert other.get("/", follow_redirects=False).status_code == 303
    assert other.get(f"{API}/users/me/").status_code == 401


def test_failed_logins_are_throttled_like_the_apis(anonymous: TestClient) -> None:
    for _ in range(5):
        wrong = anonymous.post("/login", data={"username": "admin", "password": "nope"})
        assert wrong.status_code == 401 and "Invalid user name or password" in wrong.text

    right = anonymous.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})

    assert right.status_code == 429
    assert "Too many failed logins" in right.text
    assert "estate_session" not in anonymous.cookies
    # The same name is throttled for the API's HTTP Basic as well: one throttle.
    assert anonymous.get(f"{API}/users/me/", auth=("admin", ADMIN_PASSWORD)).status_code == 429


def test_pages_answer_html_errors_and_the_api_keeps_json(anonymous: TestClient) -> None:
    log_in(anonymous)

    missing_page = anonymous.get("/no-such-page", headers=HTML)
    missing_resource = anonymous.get("/resources/999999", headers=HTML)
    missing_api = anonymous.get(f"{API}/resources/999999/", headers=HTML)

    assert missing_page.status_code == 404 and "<h1>404" in missing_page.text
    assert missing_resource.status_code == 404 and "no such resource" in missing_resource.text
    assert missing_page.headers["content-security-policy"].startswith("default-src 'self'")
    assert missing_api.status_code == 404
    assert missing_api.json() == {"detail": "no resource with id 999999"}
    assert anonymous.get("/login?next=//evil.example").text.count("//evil") == 0
