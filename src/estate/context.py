"""What every layer needs at run time, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db.engine import make_engine, make_sessionmaker
from .runtime.supervisor import Supervisor, SupervisorPolicy
from .secretbox import SecretBox


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox = field(repr=False)
    supervisor: Supervisor = field(default_factory=Supervisor, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database)
        supervisor = Supervisor(policy_of(settings))
        return cls(settings, engine, make_sessionmaker(engine), SecretBox(settings), supervisor)

    def close(self) -> None:
        self.supervisor.close()
        self.engine.dispose()


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
