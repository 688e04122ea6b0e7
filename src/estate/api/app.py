"""The FastAPI application: routers, error handlers, start-up and shut-down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from .. import __version__
from ..auth.throttle import Throttle
from ..bootstrap import AdminLogin, prepare, recover_runs
from ..config import Settings, scrub_environment
from ..context import Context
from ..jobs.bell import RING, Bell, RingPipes, hear
from ..jobs.collect import run_collection
from ..jobs.executor import LocalExecutor
from ..jobs.forward import ForwardedJobs, ForwardingExecutor, JobPipe, Sender
from ..jobs.indexer import SearchIndexer
from ..jobs.prepare import prepare_version
from ..jobs.process_board import BoardPublisher, ProcessBoard
from ..jobs.schedule import Scheduler
from ..registry.errors import InvalidPackage, RegistryError
from ..registry.managed import preparing_versions
from ..request_checks import refuse_unknown_parameters, refuse_unstorable_parameters
from ..runtime.demand import Demand
from ..secretbox import SecretKeyError
from ..web import app as web
from . import docs_ui, faults, openapi
from .access import AccessLog
from .admission import Admission
from .audit_log import AuditLog
from .balance import Connections, SpreadConnections
from .interpreter import tune_for_requests
from .limits import BodyLimits
from .routes import (
    action_runs,
    actions,
    api_root,
    audit,
    catalog,
    conformance,
    drift,
    events,
    members,
    organizations,
    ping,
    plugin_apis,
    plugin_sources,
    plugin_versions,
    plugins,
    processes,
    provider_versions,
    providers,
    relationships,
    repositories,
    resource_types,
    resources,
    runs,
    schedules,
    sightings,
    signing_keys,
    tags,
    users,
    vendor_types,
    watchlists,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/inventory/v1"

StartHook = Callable[[Context, LocalExecutor, AdminLogin], None]


def create_app(
    settings: Settings | None = None,
    on_start: StartHook | None = None,
    *,
    prepared: tuple[Context, AdminLogin] | None = None,
    jobs: JobPipe | Sender | None = None,
    rings: RingPipes | Connection | None = None,
    worker: int = 0,
    is_primary: bool = True,
    tuned: bool = False,
    demand: Demand | None = None,
    connections: Connections | None = None,
) -> FastAPI:
    """The service; ``on_start`` runs once everything is ready (the demo uses it).

    ``prepared`` is a context on which ``bootstrap.prepare`` ran already (``estate
    serve`` prepares before the server starts, to report a bad database or key in
    one line); without it, start-up builds and prepares one.

    With ``estate serve --workers N`` (docs/cli.md), ``jobs`` is the pipe
    between the processes: the primary (``is_primary``) runs the background parts
    and the jobs the others send on it; another process (``is_primary=False``) only
    answers requests, sends the jobs its routes start, and neither migrates nor
    recovers anything (the primary did, before it started the others). ``rings``
    carries the bell (``jobs/bell.py``) from the primary to the workers: the primary's
    pipes to all of them, or worker number ``worker``'s end.

    ``demand``: the counters of requests in progress the processes share (one per
    process, ``worker`` this one's; ``runtime/demand.py``); a process alone has its own.
    ``connections``: the worker's server's open connections, given to a worker of
    several, which then asks a client to reconnect while it holds more than its share
    (``api/balance.py``).

    ``tuned``: the app is the process's own (``estate serve`` and its workers): once
    started, the interpreter is tuned for answering requests (``api/interpreter.py``).
    """
    if settings is None:
        settings = Settings()
        scrub_environment()
    if demand is None:
        demand = Demand()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        login: AdminLogin | None
        if prepared is not None:
            context, login = prepared
        else:
            context = Context.from_settings(settings)
            login = prepare(context) if is_primary else None
        context.demand = demand
        context.supervisor.start()
        board = ProcessBoard.under(context.settings.resolved_data_dir)
        app.state.process_board = board
        publisher = None
        if jobs is not None:  # one of several processes: show the others ours
            if is_primary:
                board.clear()
            publisher = BoardPublisher(context.supervisor, board)
            publisher.start()
        app.state.context = context
        app.state.admin_login = login
        app.state.throttle = Throttle.from_settings(settings, context.sessions, context.reads)
        bell: Bell = app.state.bell
        if not is_primary:
            assert jobs is not None, "an API worker needs the pipe to the primary"
            app.state.executor = ForwardingExecutor(jobs)
            if isinstance(rings, Connection):
                channel = jobs
                bell.send = lambda: channel.send((RING, worker))
                hear(rings, bell)
            if tuned:
                tune_for_requests()
            try:
                yield
            finally:
                if publisher is not None:
                    publisher.stop()
                context.close()
            return
        if isinstance(rings, RingPipes):
            bell.send = rings.send_all
        executor = LocalExecutor(context, on_change=bell.ring)
        for run_id in recover_runs(context):
            executor.submit(run_collection, run_id)
        with context.sessions() as session:
            for version_id in preparing_versions(session):
                executor.submit(prepare_version, version_id)
        app.state.executor = executor
        forwarded = None
        if isinstance(jobs, JobPipe):
            forwarded = ForwardedJobs(jobs, executor, on_ring=_ringing(bell, rings))
            forwarded.start()
        scheduler = Scheduler(context, lambda run_id: executor.submit(run_collection, run_id))
        scheduler.start()
        indexers = [SearchIndexer(context, n) for n in range(context.settings.indexers)]
        for indexer in indexers:
            indexer.start()
        if on_start is not None:
            assert login is not None
            on_start(context, executor, login)
        if tuned:
            tune_for_requests()
        try:
            yield
        finally:
            scheduler.stop()
            for indexer in indexers:
                indexer.stop()
            if forwarded is not None:
                forwarded.stop()
            if publisher is not None:
                publisher.stop()
            executor.shutdown()
            context.close()

    app = FastAPI(
        title="Estate",
        version=__version__,
        description="One inventory and control plane for a whole infrastructure estate.",
        lifespan=lifespan,
        redirect_slashes=True,
        docs_url=None,  # served by docs_ui, without a CDN
        redoc_url=None,
        dependencies=[Depends(refuse_unstorable_parameters), Depends(refuse_unknown_parameters)],
    )
    # A request's route is found by trying each route in this order, included router
    # by router (~6 µs each): the inventory's read paths, most of the traffic, come
    # first (the resource list was behind 19 entries, ~120 µs). Order decides only
    # where two routes match one path; tests/api/test_routes.py checks that every
    # route is still the first to match its own paths.
    for module in (
        api_root,
        ping,
        resources,
        relationships,
        drift,
        resource_types,
        vendor_types,
        organizations,
        members,
        users,
        plugin_sources,
        repositories,
        plugins,
        plugin_versions,
        signing_keys,
        conformance,
        catalog,
        providers,
        provider_versions,
        schedules,
        runs,
        actions,
        action_runs,
        sightings,
        tags,
        watchlists,
        events,
        plugin_apis,
        processes,
        audit,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    _add_error_handlers(app)
    app.state.bell = Bell()
    app.add_middleware(AuditLog, prefix=API_PREFIX)
    faults.install(app)
    app.add_middleware(BodyLimits, settings=settings)
    app.add_middleware(Admission, slots=settings.admitted_requests, demand=demand, counter=worker)
    if connections is not None:
        app.add_middleware(
            SpreadConnections,
            connections=connections,
            demand=demand,
            counter=worker,
            workers=settings.api_workers,
        )
    app.add_middleware(AccessLog)
    openapi.install(app, public=frozenset({f"{API_PREFIX}/ping/"}))
    docs_ui.install(app)
    web.install(app)  # the pages, at /
    return app


def _ringing(bell: Bell, rings: RingPipes | Connection | None) -> Callable[[int], None]:
    """The primary's answer to a worker's ring: its own pages, and the other workers'."""

    def ring(worker: int) -> None:
        bell.ring_here()
        if isinstance(rings, RingPipes):
            rings.send_all(sender=worker)

    return ring


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, InvalidPackage):
            body["problems"] = exc.problems
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(error) for error in exc.errors()]
        # Never echo "input": it may hold a password.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems), "errors": errors}, status_code=400)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced past the same uniqueness check; the database kept one.
        detail = (
            "conflict: a record with the same name or key was stored meanwhile; nothing was changed"
        )
        return JSONResponse({"detail": detail}, status_code=409)

    @app.exception_handler(SecretKeyError)
    async def secret_key_error(request: Request, exc: SecretKeyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = error.get("msg", "invalid")
    return f"{location}: {message}" if location else message
