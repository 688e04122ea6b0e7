"""``estate serve`` and ``estate db upgrade``: the commands that run the service itself.

The only CLI module that imports the service's layers, inside its functions.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from . import credentials
from .client import USAGE, fail
from .output import stdout

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

    from ..bootstrap import AdminLogin
    from ..config import Settings
    from ..context import Context

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


def register(root: typer.Typer, epilog: str) -> None:
    root.command("serve", epilog=epilog)(serve)
    db_app.info.epilog = epilog
    root.add_typer(db_app, name="db")


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on", metavar="ADDRESS")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on", min=1, max=65535, metavar="PORT")
    ] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Create and collect a demo provider on first start", metavar=""
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes answering the API (default ESTATE_API_WORKERS, 1); with more "
            "than one, the primary process answers none and runs jobs, schedules and the "
            "search indexer",
            min=1,
            max=64,
            metavar="N",
        ),
    ] = None,
) -> None:
    """Run the API and a local job executor (in one process, or in --workers N)."""
    from ..logs import configure

    settings = _settings()
    if workers is not None:
        settings.api_workers = workers
    configure(settings.log_level, settings.log_format)
    context, login = _prepare(settings)

    import uvicorn  # after the checks: a bad setting is reported without loading the app

    from ..api.app import create_app
    from ..demo import announce, start_demo
    from .workers import listeners, server_config

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    service_file = settings.resolved_data_dir / credentials.SERVICE_FILE

    def on_start(context: Any, executor: Any, login: Any) -> None:
        announce(login, url)
        credentials.write_service(settings.resolved_data_dir, url)
        if demo:
            start_demo(context, executor)

    try:  # bound before the lifespan starts: service.json names a port that answers
        sockets = listeners(host, port, settings.api_workers)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    if settings.api_workers == 1:
        application = create_app(settings, on_start=on_start, prepared=(context, login), tuned=True)
        _on_sigterm(lambda: service_file.unlink(missing_ok=True))
        try:
            uvicorn.Server(server_config(application)).run(sockets=sockets)
        finally:
            service_file.unlink(missing_ok=True)
        return
    _serve_with_workers(settings, sockets, (context, login), on_start)


def _serve_with_workers(
    settings: Settings, sockets: list[Any], prepared: Any, on_start: Any
) -> None:
    """The primary: start the workers on the sockets opened for them, run the background
    parts and answer no request itself (cli/workers.py): a collection's ingest never
    holds the interpreter lock of a process that answers requests."""
    import uvicorn

    from ..api.app import create_app
    from .workers import Workers, server_config

    workers = Workers(settings, sockets)
    service_file = settings.resolved_data_dir / credentials.SERVICE_FILE
    application = create_app(
        settings,
        on_start=on_start,
        prepared=prepared,
        jobs=workers.jobs,
        rings=workers.rings,
        tuned=True,
        demand=workers.demand,
    )

    def stop() -> None:
        service_file.unlink(missing_ok=True)
        workers.stop()

    _on_sigterm(stop)
    workers.start()
    try:
        uvicorn.Server(server_config(application)).run(sockets=[])  # lifespan, no listener
    finally:
        stop()


def _on_sigterm(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` when SIGTERM ends the process, then die of it as before.

    uvicorn shuts down on SIGTERM and then raises the signal again to its previous
    handler, which by default ends the process before any ``finally`` runs.
    """

    def handler(signum: int, frame: object) -> None:
        cleanup()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, handler)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve does this at start too)."""
    from sqlalchemy.exc import OperationalError

    from ..context import Context
    from ..db.migrate import current, upgrade

    settings = _settings()
    try:
        context = Context.from_settings(settings)
        upgrade(context.engine)
    except OperationalError as exc:
        raise fail(_database_problem(settings, exc)) from None
    stdout().print(Text(f"database at revision {current(context.engine)}"))


def _settings() -> Settings:
    from pydantic import ValidationError

    from ..config import Settings, scrub_environment

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [
            f"ESTATE_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        raise fail("; ".join(problems), USAGE) from None
    scrub_environment()
    return settings


def _prepare(settings: Settings) -> tuple[Context, AdminLogin]:
    """The context, migrated and seeded; a problem a person can fix exits with one line."""
    from sqlalchemy.exc import OperationalError

    from ..bootstrap import prepare
    from ..context import Context
    from ..secretbox import SecretKeyError

    try:
        context = Context.from_settings(settings)
        return context, prepare(context)
    except SecretKeyError as exc:
        raise fail(str(exc)) from None
    except OperationalError as exc:
        raise fail(_database_problem(settings, exc)) from None
    except OSError as exc:
        where = exc.filename or settings.resolved_data_dir
        raise fail(f"cannot use {where} ({exc.strerror}): fix ESTATE_DATA_DIR") from None


def _database_problem(settings: Settings, exc: OperationalError) -> str:
    """One line: which database (never its password), what went wrong, what to do."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database)
    shown = url.render_as_string(hide_password=True)
    text = str(exc.orig or exc)
    if "does not exist" in text:
        reason = f"database {url.database!r} does not exist"
        advice = f"create it (createdb {url.database}) or fix ESTATE_DATABASE_URL"
    elif "refused" in text.lower():
        reason, advice = "connection refused", "start PostgreSQL or fix ESTATE_DATABASE_URL"
    else:
        reason = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        advice = "check ESTATE_DATABASE_URL and ESTATE_DATA_DIR"
    return f"cannot connect to the database at {shown} ({reason}): {advice}"
