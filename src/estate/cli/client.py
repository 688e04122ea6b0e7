"""How the CLI reaches the API: where it is, who we are, what each answer means.

Exit codes (the one place they are decided; docs/cli.md lists them):

    0  success
    1  the operation ran and failed (run not completed, test failed, 5xx)
    2  bad usage, or input the API refused (400, 409, 413, 422)
    3  not found (404)
    4  not authenticated or not allowed (401, 403)
    5  the service cannot be reached
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import typer

from . import credentials
from .output import error

API = "/api/inventory/v1"
DEFAULT_URL = "http://127.0.0.1:8000"

OK, FAILED, USAGE, NOT_FOUND, DENIED, UNREACHABLE = range(6)
_STATUS_EXITS = {400: USAGE, 409: USAGE, 413: USAGE, 422: USAGE, 404: NOT_FOUND}
_STATUS_EXITS.update({401: DENIED, 403: DENIED})


def fail(message: str, code: int = FAILED) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises what this returns."""
    error(message)
    return typer.Exit(code)


@dataclass
class Options:
    """The root command's ``--url/--token/--username/--password``; None when not given."""

    url: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None


@dataclass
class Target:
    """Where the API is and how to authenticate to it."""

    url: str
    auth: httpx.Auth | None
    headers: dict[str, str]
    source: str
    """Where the credentials came from, for the messages."""


_given = Options()


def remember(given: Options) -> None:
    """Keep the root command's options for the subcommand that runs next."""
    global _given
    _given = given


def options() -> Options:
    """The global options of the command being run."""
    return _given


def resolve(given: Options, *, saved: bool = True) -> Target:
    """Flags, then ``ESTATE_*``, then the saved login, then the admin password file."""
    env = credentials.environment()
    login = credentials.load_login() if saved else None
    url = given.url or env.url or (login.url if login else None)
    url = (url or credentials.service_url() or DEFAULT_URL).rstrip("/")
    username = given.username or env.username or "admin"
    env_token = env.token.get_secret_value() if env.token else None
    env_password = env.password.get_secret_value() if env.password else None
    for token, password, where in (
        (given.token, given.password, "the command line"),
        (env_token, env_password, "ESTATE_TOKEN/ESTATE_PASSWORD"),
    ):
        if token:
            return Target(url, None, {"Authorization": f"Bearer {token}"}, where)
        if password:
            return Target(url, httpx.BasicAuth(username, password), {}, where)
    if login is not None and login.url == url:
        bearer = {"Authorization": f"Bearer {login.token}"}
        return Target(url, None, bearer, f"the saved login ({credentials.login_path()})")
    found = credentials.admin_password()
    if found is not None:
        password, path = found
        return Target(url, httpx.BasicAuth(username, password), {}, str(path))
    raise fail(
        f"no credentials for {credentials.masked(url)}: run `estate login`, pass --password or "
        "--token, or set ESTATE_PASSWORD or ESTATE_TOKEN",
        USAGE,
    )


ESTIMATED_HEADER = "X-Count-Estimated"
"""Sent by the API (``api/answers.py``) with a page whose count is an estimate."""


class Api:
    """An HTTP client for the API whose failures become exit codes."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.http = httpx.Client(
            base_url=target.url, auth=target.auth, headers=target.headers, timeout=120
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=_present(params))

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def call(self, method: str, path: str, *, tolerate: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """Send one request; answer its JSON (None when empty) or exit with its code.

        A status in ``tolerate`` answers None instead of exiting.
        """
        response = self._send(method, path, **kwargs)
        if response.status_code in tolerate:
            return None
        return self._answer(response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{API}/{path.lstrip('/')}"
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            where = credentials.masked(self.target.url)
            raise fail(
                f"cannot reach the Estate API at {where} ({exc or type(exc).__name__}): "
                "start it with `estate serve`, or point --url (ESTATE_URL) at it",
                UNREACHABLE,
            ) from None

    def _answer(self, response: httpx.Response) -> Any:
        if response.is_success:
            return response.json() if response.content else None
        try:
            body = response.json()
            detail = body.get("detail", response.text) if isinstance(body, dict) else body
        except ValueError:
            detail = response.text or response.reason_phrase
        request = response.request
        message = f"{request.method} {request.url.path}: {response.status_code}: {detail}"
        if response.status_code == 401:
            message += f" (credentials from {self.target.source})"
        code = _STATUS_EXITS.get(response.status_code)
        if code is None:
            code = USAGE if response.status_code < 500 else FAILED
        raise fail(message, code)

    def page(self, path: str, params: dict[str, Any], *, limit: int, every: bool) -> Any:
        """One page of at most ``limit`` (``count_estimated``: true when its count is an
        estimate), or with ``every`` all pages as one, counted."""
        query = _present({**params, "page_size": 1000 if every else limit})
        response = self._send("GET", path, params=query)
        first = self._answer(response)
        if not every:
            if response.headers.get(ESTIMATED_HEADER) == "true":
                first["count_estimated"] = True
            return first
        results = list(first["results"])
        link = first.get("next")
        while link:
            page = self.call("GET", link)
            results.extend(page["results"])
            link = page.get("next")
        return {"count": len(results), "next": None, "previous": None, "results": results}


def api() -> Api:
    """A client for the running command, with the credentials ``resolve`` finds."""
    return Api(resolve(options()))


def _present(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}
