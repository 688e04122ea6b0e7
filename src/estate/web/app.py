"""Mount the web UI on the service's app: pages, live streams, assets, error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import (
    admin,
    catalog,
    dashboard,
    events,
    login,
    plugins,
    provider_form,
    providers,
    repositories,
    resources,
    runs,
    watchlists,
)
from .assets import PREFIX, STATIC, Assets, CompressPages
from .deps import LoginRequired, PageError
from .live import Signal, SignalOnWrites
from .templating import page

_NOT_PAGES = ("/api/", "/static/", "/openapi", "/docs", "/redoc", "/live/")


def install(app: FastAPI) -> None:
    """Serve the UI at ``/`` beside the API (which keeps its JSON answers)."""
    app.mount(PREFIX, Assets(directory=STATIC), name="web-assets")
    pages = (login, dashboard, provider_form, providers, runs, resources, watchlists, plugins)
    for module in (*pages, catalog, events, admin, repositories):  # /new first
        app.include_router(module.router)
    app.state.live_signal = Signal()
    app.state.bell.listen(app.state.live_signal.bump_from_any_thread)
    app.add_middleware(SignalOnWrites, bell=app.state.bell)
    app.add_middleware(CompressPages)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return page(
            request, "error.html", exc.status_code, code=exc.status_code, message=exc.message
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A person's browser asking for a page gets a page; API clients keep JSON.
        wants_page = "text/html" in request.headers.get("accept", "")
        if wants_page and not request.url.path.startswith(_NOT_PAGES):
            message = str(exc.detail) if exc.status_code != 404 else "There is no such page."
            return page(
                request, "error.html", exc.status_code, code=exc.status_code, message=message
            )
        return await http_exception_handler(request, exc)
