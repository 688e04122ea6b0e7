"""What every layer needs at run time, built once per process from the settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db.engine import make_engine, make_read_engine, make_sessionmaker
from .runtime.demand import Demand
from .runtime.supervisor import Supervisor, SupervisorPolicy
from .secretbox import SecretBox


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox = field(repr=False)
    supervisor: Supervisor = field(default_factory=Supervisor, repr=False)
    demand: Demand = field(default_factory=Demand, repr=False)
    """The requests the service's processes are answering (set by ``create_app``)."""
    read_engine: Engine = field(init=False, repr=False)
    """The engine of ``reads``: its connections in autocommit, in a pool of their own
    (``db/engine.py``: :func:`make_read_engine`)."""
    reads: sessionmaker[Session] = field(init=False, repr=False)
    """Sessions that open no transaction, for requests that only read."""

    def __post_init__(self) -> None:
        self.read_engine = make_read_engine(self.engine)
        self.reads = make_sessionmaker(self.read_engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        prepare_data_dir(settings)
        engine = make_engine(settings.database)
        supervisor = Supervisor(policy_of(settings))
        return cls(settings, engine, make_sessionmaker(engine), SecretBox(settings), supervisor)

    def step_aside(self, worked: float) -> float:
        """After an ingest batch that took ``worked`` seconds: wait while the service
        answers requests, up to ``ESTATE_BACKGROUND_YIELD`` times that
        (``runtime/demand.py``). The seconds waited: 0.0 at once with no request in
        progress, or with the setting at 0."""
        return self.demand.pause(worked, self.settings.background_yield)

    def close(self) -> None:
        self.supervisor.close()
        self.dispose()

    def dispose(self) -> None:
        """Close the connections both pools hold (new ones are opened when needed)."""
        self.read_engine.dispose()
        self.engine.dispose()


def prepare_data_dir(settings: Settings) -> None:
    """Make the data directory private: 0700, and a SQLite database in it 0600.

    The directory holds the database, ``secret.key`` and ``admin_password``. With
    ``plugin_uid`` set, plugins run as another user who must reach their own folder
    under ``plugins/``: the directory is then 0711 (enter, never list), and the
    files that matter stay 0600 (SQLite gives its ``-wal`` and ``-shm`` files the
    database file's mode).
    """
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700 if settings.plugin_uid is None else 0o711)
    database = sqlite_file(settings.database)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        database.chmod(0o600)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None (another database, or in memory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, f"{prefix}:memory:"):
        return None
    return Path(url.removeprefix(prefix).split("?", 1)[0])


def policy_of(settings: Settings) -> SupervisorPolicy:
    """How long-lived plugin processes are supervised, from the settings."""
    return SupervisorPolicy(
        start_timeout=settings.start_timeout,
        call_timeout=settings.call_timeout,
        health_interval=settings.health_interval,
        health_timeout=settings.health_timeout,
        idle_timeout=settings.idle_timeout,
        backoff_base=settings.restart_backoff,
        backoff_max=settings.restart_backoff_max,
        breaker_failures=settings.crash_loop_failures,
        breaker_window=settings.crash_loop_window,
        breaker_cooldown=settings.crash_loop_cooldown,
        cancel_grace=settings.cancel_grace,
    )
