"""Readiness: no authentication; 200 when the database answers and is migrated, else 503."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ... import __version__
from ...db.migrate import pending_revision
from ..deps import ContextDep
from ..faults import database_problem

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/ping/",
    responses={503: {"description": "The database is unreachable or not migrated"}},
)
def ping(context: ContextDep) -> Any:
    try:
        behind = pending_revision(context.engine)
        problem = (
            f"the database schema is at revision {behind[0] or 'none'}, not {behind[1]}: "
            "run `estate db upgrade` or restart the service"
            if behind
            else None
        )
    except DBAPIError as exc:
        problem = database_problem(exc)
    except SQLAlchemyError as exc:  # pool exhausted, a closed engine: not reachable now
        problem = f"the database is unavailable: {type(exc).__name__}; try again"
    body: dict[str, Any] = {
        "status": "ok" if problem is None else "unavailable",
        "version": __version__,
        "database": "ok" if problem is None else "unavailable",
    }
    if problem is None:
        return body
    logger.warning("ping: %s", problem)
    return JSONResponse({**body, "detail": problem}, status_code=503)
