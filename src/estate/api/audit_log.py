"""The audit middleware: one audit entry per state-changing request, once answered.

Every POST, PUT, PATCH and DELETE that an authenticated user made is recorded: the
action from the method and the route template (``providers.update``,
``providers.collect``, ``provider-plugins.upload``, ``tokens.delete``), the object
from the path parameters or, for a create, from the ``id`` (or ``key``) of the
answer, the organization when the answer names one, the status, and for an error
its ``detail``. Refused credentials are recorded by authentication itself
(``auth.login_failed``), so requests without a user are not recorded here. Request
bodies are never read.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth.audit import record
from ..context import Context
from .access import USER_KEY, client_of

logger = logging.getLogger(__name__)

USER_ID_KEY = "audit_user_id"
"""Where in the request's state the authenticated user's id is left."""

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
_BODY_LIMIT = 256 * 1024  # larger answers are not read for an id


class AuditLog:
    """ASGI middleware: record each state-changing request after its answer."""

    def __init__(self, app: ASGIApp, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = 500
        body = bytearray()

        async def send_noting_answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(body) <= _BODY_LIMIT:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_noting_answer)
        finally:
            if scope["state"].get(USER_ID_KEY) is not None:
                answer = _json(bytes(body)) if len(body) <= _BODY_LIMIT else {}
                await anyio.to_thread.run_sync(self._write, scope, status, answer)

    def _write(self, scope: Scope, status: int, answer: dict[str, Any]) -> None:
        context: Context = scope["app"].state.context
        object_type, action, object_id = describe(scope, self.prefix)
        if object_id is None and scope["method"] == "POST" and status < 300:
            created = answer.get("id", answer.get("key"))
            object_id = None if created is None else str(created)
        organization = answer.get("organization")
        detail = answer.get("detail") if status >= 400 else ""
        try:
            with context.sessions() as session:
                record(
                    session, action=action, status=status, client=client_of(scope),
                    user_id=scope["state"][USER_ID_KEY], username=scope["state"].get(USER_KEY) or "",
                    object_type=object_type, object_id=object_id,
                    organization_id=organization if isinstance(organization, int) else None,
                    detail=detail if isinstance(detail, str) else "",
                )  # fmt: skip
                session.commit()
        except Exception:  # the answer is sent; a lost entry must not become a 500
            logger.exception("audit entry for %s %s not written", scope["method"], scope["path"])


def describe(scope: Scope, prefix: str = "") -> tuple[str, str, str | None]:
    """``(object type, action, object id)`` of a request from its route template:
    ``PATCH /providers/{provider_id}/`` is ``("providers", "providers.update", "7")``."""
    route = scope.get("route")
    template: str = getattr(route, "path", None) or scope["path"]
    template = template.removeprefix(prefix)
    segments = [s for s in template.split("/") if s]
    if not segments:
        return "", _VERBS[scope["method"]], None
    noun = segments[0]
    literals = [s for s in segments[1:] if not s.startswith("{")]
    action = f"{noun}.{literals[-1] if literals else _VERBS[scope['method']]}"
    params = scope.get("path_params") or {}
    named = [s.strip("{}").partition(":")[0] for s in segments if s.startswith("{")]
    object_id = str(params[named[0]]) if named and named[0] in params else None
    if object_id is None and "me" in literals:
        object_id = str(scope["state"].get(USER_ID_KEY))
    return noun, action, object_id


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
