"""The one settings object. Nothing else in Estate reads the environment."""

from __future__ import annotations

import ctypes
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOLEAN_WORDS = frozenset({"1", "0", "true", "false"})


class Settings(BaseSettings):
    """Every knob of the service; each field is read from ``ESTATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ESTATE_", extra="ignore")

    data_dir: Path = Field(default=Path(".estate"), description="Where data, plugins and keys live")
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite in the data directory"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key for secrets at rest; default a key file"
    )
    admin_password: SecretStr | None = None
    admin_username: str = "admin"
    builtin_plugins_dir: Path | None = Field(
        default=None, description="Managed plugins registered at start (default: ./plugins)"
    )
    run_timeout: float = Field(default=3600.0, gt=0, description="Seconds a collection may take")
    call_timeout: float = Field(default=60.0, gt=0, description="Seconds for one plugin call")
    start_timeout: float = Field(default=30.0, gt=0, description="Seconds for a plugin to start")
    cancel_grace: float = Field(
        default=5.0, gt=0, description="Seconds a plugin has to honour $/cancel before a kill"
    )
    health_interval: float = Field(
        default=30.0, gt=0, description="Seconds between health pings of idle plugin processes"
    )
    health_timeout: float = Field(default=5.0, gt=0, description="Seconds for a health answer")
    idle_timeout: float = Field(
        default=600.0, gt=0, description="Seconds an unused plugin process stays up"
    )
    restart_backoff: float = Field(
        default=0.5, gt=0, description="First restart delay after a crash; doubles each time"
    )
    restart_backoff_max: float = Field(default=30.0, gt=0)
    crash_loop_failures: int = Field(
        default=5, ge=1, description="Crashes within crash_loop_window that stop restarts"
    )
    crash_loop_window: float = Field(default=60.0, gt=0)
    crash_loop_cooldown: float = Field(
        default=300.0, gt=0, description="Seconds a crash-looping plugin is left stopped"
    )
    workers: int = Field(default=4, ge=1, description="Concurrent jobs of the local executor")
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes answering the API (estate serve --workers); with more than "
        "one, the primary answers none and runs jobs, schedules and the search indexer",
    )
    api_concurrency: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="Requests one API process works on at once; the others wait their turn "
        "in arrival order (0: no limit; default: 2 on SQLite, 8 on PostgreSQL, where a "
        "request waits on the database server more)",
    )
    schedule_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between two looks of the scheduler for due collection schedules",
    )
    batch_size: int = Field(default=1000, ge=1, le=10000)
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Niceness added to collections and conformance runs (their thread, "
        "their plugin process), so that they yield the CPU to the processes and threads "
        "answering requests (0: none)",
    )
    background_yield: float = Field(
        default=1.0,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="While requests are being answered, a collection waits this many times "
        "as long as its last batch took before the next one (at most 2 s; 0: never)",
    )
    search_indexers: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="Threads of the primary process moving changed resources into the "
        "search index side by side (default: 2 on PostgreSQL; SQLite has one writer: 1)",
    )
    sighting_retention_days: int = Field(
        default=90,
        ge=0,
        description="Days an ended sighting is kept after it was last seen, pruned after "
        "each run of its provider (0: kept for ever)",
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    unsigned_plugins: Literal["refuse", "warn", "allow"] = Field(
        default="warn",
        description="What an upload without a signature gets: refused, installed with a "
        "warning in its install log, or installed silently (a bad or revoked signature "
        "is always refused)",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest request body but a plugin upload's (413 above it)",
    )
    offline: bool = Field(
        default=False,
        description="Never reach the network: plugin requirements from wheels only (the "
        "wheelhouse, a plugin's wheels/), no package index; repository sync and install "
        "from a repository refused (503); 1/0/true/false",
    )
    remote_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a repository's index or archive may take"
    )
    wheelhouse: Path | None = Field(
        default=None,
        description="A folder of wheels plugin requirements install from, where `estate "
        "plugin bundle import` puts a bundle's (default: <data dir>/wheels)",
    )
    environments_dir: Path | None = Field(
        default=None,
        description="Where shared plugin environments live (default: <data dir>/environments)",
    )
    confine: bool = Field(
        default=True,
        description="Run every plugin process confined (PID namespace, limits, Landlock)",
    )
    plugin_require_landlock: bool = Field(
        default=True,
        description="Refuse to start plugins where the kernel has no Landlock (else run them "
        "with limits and namespaces only)",
    )
    plugin_memory_mb: int = Field(
        default=2048, ge=16, description="Memory (data segment) of one plugin process, MiB"
    )
    plugin_cpu_seconds: int = Field(
        default=3600, ge=1, description="CPU seconds one plugin process may use"
    )
    plugin_max_processes: int = Field(
        default=64, ge=2, description="Processes and threads of one plugin job"
    )
    plugin_max_file_mb: int = Field(
        default=1024, ge=1, description="Largest file a plugin process may write, MiB"
    )
    plugin_uid: int | None = Field(
        default=None,
        ge=1,
        description="One user every plugin process runs as when the service runs as root "
        "(default: a user of its own per process, see plugin_users)",
    )
    plugin_gid: int | None = Field(
        default=None, ge=1, description="Group of plugin_uid, or of the plugin users"
    )
    plugin_launcher: Literal["auto", "native", "python"] = Field(
        default="auto",
        description="What confines each plugin process before it starts: native "
        "(estate-sandbox, built by make setup), python (sandbox.py), or auto: native "
        "when it is built",
    )
    plugin_users: bool = Field(
        default=True,
        description="When the service runs as root, run each plugin process as a user of "
        "its own from plugin_uid_base (else as root without capabilities)",
    )
    plugin_uid_base: int = Field(
        default=64500,
        ge=1000,
        le=2**31,
        description="First user id of the plugin users (none needs a passwd entry); their "
        "group is plugin_gid, else this number",
    )
    plugin_uid_count: int = Field(
        default=500, ge=1, le=65536, description="How many plugin users there are"
    )
    plugin_readable: list[Path] = Field(
        default_factory=list,
        description="More folders plugins may read (the system's, their own and their "
        "environment's always)",
    )
    scratch_dir: Path | None = Field(
        default=None,
        description="Where plugin processes get their private scratch folders "
        "(default: <data dir>/scratch)",
    )
    token_default_days: int = Field(
        default=30, ge=1, description="Days an API token lives when its creator does not say"
    )
    token_max_days: int = Field(default=365, ge=1, description="Most days an API token may live")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins for one user name before it is throttled"
    )
    login_max_failures_per_client: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address before it is throttled "
        "(higher: an address may be a proxy or NAT many people share)",
    )
    login_failure_window: float = Field(
        default=300.0, gt=0, description="Seconds within which failed logins are counted"
    )
    login_backoff: float = Field(
        default=30.0, gt=0, description="First throttle of a user name or address; doubles"
    )
    login_backoff_max: float = Field(
        default=900.0, gt=0, description="Longest throttle of a user name or address"
    )
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        default="text", description="serve's log lines: text, or one JSON object per line"
    )

    @field_validator("search_indexers")
    @classmethod
    def _one_writer_on_sqlite(cls, value: int | None, info: ValidationInfo) -> int | None:
        """More than one indexer on SQLite would only wait for the one write lock: a
        setting that cannot do what it says is refused, not ignored."""
        url = info.data.get("database_url")
        sqlite = url is None or url.get_secret_value().startswith("sqlite")
        if value is not None and value > 1 and sqlite:
            raise ValueError("SQLite has one writer at a time: only 1 indexer can work")
        return value

    @field_validator("offline", mode="before")
    @classmethod
    def _one_of_four(cls, value: object) -> object:
        """Only 1/0/true/false: a typo (``ture``, ``yes please``) stops the start, and
        no other spelling is taken for one either."""
        if isinstance(value, str) and value.strip().lower() not in BOOLEAN_WORDS:
            raise ValueError(f"{value!r} is not one of 1, 0, true, false")
        return value

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def database(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.resolved_data_dir / 'estate.db'}"

    @property
    def on_sqlite(self) -> bool:
        """The database is SQLite (the embedded default or a URL naming it)."""
        return self.database.startswith("sqlite")

    @property
    def admitted_requests(self) -> int:
        """``api_concurrency``, or its default for the database (docs/cli.md)."""
        if self.api_concurrency is not None:
            return self.api_concurrency
        return 2 if self.on_sqlite else 8

    @property
    def indexers(self) -> int:
        """``search_indexers``, or its default for the database (docs/cli.md)."""
        if self.search_indexers is not None:
            return self.search_indexers
        return 1 if self.on_sqlite else 2

    @property
    def plugins_dir(self) -> Path:
        """Uploaded plugin versions, one immutable folder each."""
        return self.resolved_data_dir / "plugins"

    @property
    def resolved_environments_dir(self) -> Path:
        if self.environments_dir is not None:
            return self.environments_dir.expanduser().resolve()
        return self.resolved_data_dir / "environments"

    @property
    def resolved_wheelhouse(self) -> Path:
        """The wheelhouse: ``ESTATE_WHEELHOUSE``, or ``<data dir>/wheels``."""
        if self.wheelhouse is not None:
            return self.wheelhouse.expanduser().resolve()
        return self.resolved_data_dir / "wheels"

    @property
    def resolved_scratch_dir(self) -> Path:
        if self.scratch_dir is not None:
            return self.scratch_dir.expanduser().resolve()
        return self.resolved_data_dir / "scratch"

    @property
    def managed_plugins_dir(self) -> Path:
        return (self.builtin_plugins_dir or REPO_ROOT / "plugins").expanduser().resolve()


class ClientSettings(BaseSettings):
    """What the CLI reads to reach the API; every field is optional (see docs/cli.md)."""

    model_config = SettingsConfigDict(env_prefix="ESTATE_", extra="ignore")

    url: str | None = Field(default=None, description="The API the CLI talks to")
    username: str | None = Field(default=None, description="CLI login (default admin)")
    password: SecretStr | None = Field(default=None, description="CLI password")
    token: SecretStr | None = Field(default=None, description="CLI bearer token")
    data_dir: Path | None = Field(default=None, description="Where the admin password is")


SECRET_VARIABLES = ("ESTATE_ADMIN_PASSWORD", "ESTATE_SECRET_KEY", "ESTATE_DATABASE_URL")
"""Read once at start-up, then removed: a plugin must not find them in the service."""


def scrub_environment(names: tuple[str, ...] = SECRET_VARIABLES) -> None:
    """Remove ``names`` from the environment once the settings have been read.

    ``os.environ`` forgets them, and so does the C environment; but
    ``/proc/<pid>/environ`` shows the block the process started with, whatever
    ``unsetenv`` does, so each value is first overwritten in place there.
    """
    for name in names:
        if name in os.environ:
            _overwrite_in_place(name.encode())
            del os.environ[name]


def _overwrite_in_place(name: bytes) -> None:
    """Zero the value of ``name=value`` in the C ``environ`` strings (best effort)."""
    try:
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
    except (OSError, ValueError, AttributeError):  # no C library to reach: nothing to do
        return
    prefix = name + b"="
    i = 0
    while (entry := environ[i]) is not None:
        if entry.startswith(prefix):
            address = ctypes.cast(environ, ctypes.POINTER(ctypes.c_void_p))[i]
            if address is not None:
                ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
        i += 1
