"""What every layer needs at run time, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db.engine import make_engine, make_sessionmaker
from .secretbox import SecretBox


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database)
        return cls(settings, engine, make_sessionmaker(engine), SecretBox(settings))

    def close(self) -> None:
        self.engine.dispose()
