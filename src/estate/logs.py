"""The service's log lines: text for people, or one JSON object per line for collectors.

``configure`` gives the root logger one handler; uvicorn's error logger goes
through it too, and uvicorn's own access log stays off (requests are logged by
the service through the ``estate.access`` logger).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

import orjson

__all__ = ["ACCESS_USER", "TEXT_FORMAT", "JsonFormatter", "configure"]

ACCESS_USER = "access_user"
"""Where in a request's state the face that authenticated its caller (the API's
authentication, the web UI's session) leaves the user name for the access log."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
# Chatter at INFO that says nothing to an operator: alembic lists its autogenerate
# plugins as it is imported, before serve has even reached the database.
QUIET = ("alembic.runtime.plugins",)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, plus ``exc_info`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def configure(
    level: str, log_format: Literal["text", "json"], stream: TextIO | None = None
) -> logging.Handler:
    """Send every log line (the service's and uvicorn's) through one handler on ``stream``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
