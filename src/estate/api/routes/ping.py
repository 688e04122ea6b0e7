"""Readiness: no authentication, answers when the database does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ... import __version__
from ..deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/ping/")
def ping(session: SessionDep) -> dict[str, Any]:
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unavailable"
    return {
        "status": "ok" if database == "ok" else "degraded",
        "version": __version__,
        "database": database,
    }
