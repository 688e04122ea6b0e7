"""Plugin-owned API routes: seed 001's ``/plugin-apis/:plugin/*``, forwarded as they come.

``/api/inventory/v1/plugin-apis/{vendor:type}/{path}`` with any of GET, POST, PUT, PATCH
and DELETE reaches the plugin's ``handle_api_request`` when its active version declares
``api: {routes: true}``; the caller gets the plugin's status, headers and body.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ...calls.plugin_api import MAX_BODY_BYTES, ApiRequest, PluginApiError, forward, serves_api
from ...db.models import PluginVersion
from ...registry.versions import latest_compatible
from ...request_checks import accept_any_query_parameters
from ..deps import ContextDep, CurrentUser, SessionDep

# The query string is the plugin's: it is forwarded whole, never checked here.
router = APIRouter(
    prefix="/plugin-apis",
    tags=["plugin API routes"],
    dependencies=[Depends(accept_any_query_parameters)],
)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
READ_METHODS = frozenset({"GET"})


async def plugin_api(
    key: str,
    path: str,
    request: Request,
    context: ContextDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """Forward the request to the plugin ``key`` (``vendor:provider_type``).

    GET is open to every user; the methods that may change state only to
    system administrators (the plugin acts for no organization in particular)."""
    if request.method not in READ_METHODS and not user.is_admin:
        raise HTTPException(403, detail=f"{request.method}: this needs a system administrator")
    version = await run_in_threadpool(_serving_version, session, key)
    api_request = ApiRequest(
        method=request.method,
        path="/" + path,
        query=_query(request),
        headers=dict(request.headers),
        body=await _body(request),
    )
    try:
        answer = await run_in_threadpool(forward, context, version, api_request)
    except PluginApiError as exc:
        raise HTTPException(exc.status_code, detail=str(exc)) from None
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


# One route per method, so each gets an operation id of its own in the OpenAPI schema.
for _method in METHODS:
    router.add_api_route("/{key}/{path:path}", plugin_api, methods=[_method])


def _serving_version(session: Session, key: str) -> PluginVersion:
    version = latest_compatible(session, key)
    if version is None:
        raise HTTPException(404, detail=f"no plugin is installed with key {key!r}")
    if not serves_api(version):
        raise HTTPException(404, detail=f"plugin {key} does not serve API routes")
    # The plugin call may take a while: give the database connection back meanwhile.
    session.expunge(version)
    session.close()
    return version


def _query(request: Request) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        out[name] = values[0] if len(values) == 1 else values
    return out


async def _body(request: Request) -> bytes:
    too_large = HTTPException(
        413, detail=f"request body is over the {MAX_BODY_BYTES // (1024 * 1024)} MB limit"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)
