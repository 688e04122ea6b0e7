"""Where the CLI finds the API and a credential when no flag names them.

- the saved login, ``$XDG_CONFIG_HOME/estate/credentials.json`` (mode 0600), that
  ``estate login`` writes: the URL, an API token and its id;
- the data directory: ``ESTATE_DATA_DIR`` or the nearest ``.estate/`` from the
  current directory up, where ``serve`` keeps ``admin_password`` and, while it
  runs, ``service.json`` (its URL and pid).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError

from ..config import ClientSettings

SERVICE_FILE = "service.json"
PASSWORD_FILE = "admin_password"


@dataclass
class Login:
    url: str
    token: str
    token_id: int
    username: str


def environment() -> ClientSettings:
    """The ``ESTATE_*`` variables the CLI reads (through config.py, like every setting)."""
    try:
        return ClientSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ESTATE_" + str(first["loc"][0]).upper() if first["loc"] else "ESTATE_*"
        raise SystemExit(f"error: {name}: {first['msg']}") from None


def data_dir() -> Path | None:
    """``ESTATE_DATA_DIR``, else the nearest ``.estate/`` from here up."""
    configured = environment().data_dir
    if configured is not None:
        return configured.expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".estate").is_dir():
            return folder / ".estate"
    return None


def admin_password() -> tuple[str, Path] | None:
    folder = data_dir()
    path = folder / PASSWORD_FILE if folder else None
    if path is None or not path.is_file():
        return None
    return path.read_text().strip(), path


def service_url() -> str | None:
    """The URL a running ``estate serve`` wrote into the data directory."""
    folder = data_dir()
    path = folder / SERVICE_FILE if folder else None
    if path is None or not path.is_file():
        return None
    try:
        service = json.loads(path.read_text())
        os.kill(int(service["pid"]), 0)  # a file left by a killed service is not followed
    except (ValueError, KeyError, TypeError, OSError):
        return None
    return str(service["url"])


def write_service(folder: Path, url: str) -> Path:
    path = folder / SERVICE_FILE
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n")
    return path


def login_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "estate" / "credentials.json"


def load_login() -> Login | None:
    path = login_path()
    try:
        return Login(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"error: {path}: not a saved login ({exc}); remove it") from None


def save_login(login: Login) -> Path:
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(login), handle)
    path.chmod(0o600)
    return path


def masked(url: str) -> str:
    """``url`` with any password in it replaced by ``***``."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    if not parsed.password:
        return url
    return str(parsed.copy_with(username=parsed.username, password="***"))
